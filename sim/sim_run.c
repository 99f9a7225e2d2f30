/*
 * sim/sim_run.c - one simulation: the event loop and what each node and
 * the referee do on each event.
 *
 * The referee's side calls the very rules the referee calls: chain/
 * decides every amount and state change (chain_submit, chain_claim,
 * chain_finalize, chain_challenge, chain_verdict, chain_dispute_settle,
 * chain_equivocation, chain_job_expire) and apply() carries the effects
 * out on the arrays, as the referee's ledger_apply does on SQLite, after
 * the same invariant check. Disputes run through bisect/. Where the
 * simulator simplifies, the comment says so; docs/simulation.md lists
 * every simplification.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "engine/engine.h"
#include "sim/des_int.h"

/* A job the referee refused at submission (no executor, no balance). */
#define JOB_REFUSED 99

static double
wall_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void fail(struct world *w, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The first fatal error stops the run; later ones are dropped. */
static void
fail(struct world *w, int err, const char *fmt, ...)
{
	if (w->err != RF_OK) {
		return;
	}
	w->err = err;
	if (w->ei != NULL) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(w->ei->msg, sizeof(w->ei->msg), fmt, ap);
		va_end(ap);
	}
}

static uint64_t
now_ms(const struct world *w)
{
	return w->now / 1000;
}

/* ------------------------------------------------------------------ */
/* Events, messages, slots                                              */
/* ------------------------------------------------------------------ */

static bool
job_event(uint8_t k)
{
	return k >= EV_SUBMIT && k <= EV_DEADLINE;
}

static bool
dispute_event(uint8_t k)
{
	return k >= EV_QUERY && k <= EV_TICK;
}

/* Schedules an event; a job or dispute it names is kept until it runs. */
static void
at(struct world *w, uint64_t t, uint8_t kind, uint32_t a, uint32_t b,
    uint32_t c)
{
	if (w->err != RF_OK) {
		return;
	}
	if (sim_evq_push(&w->q, t, kind, a, b, c) != RF_OK) {
		fail(w, RF_ERR_NOMEM, "event queue: out of memory");
		return;
	}
	if (job_event(kind)) {
		w->jobs[a].refs++;
	} else if (dispute_event(kind)) {
		w->ds[a]->refs++;
	}
}

/*
 * One message between an account and the referee: the node's latency,
 * jitter, and a resend after retry_us for every loss (REQ/REP retries;
 * a missed PUB event is fetched again from the event log, which costs
 * the same). Keyed by a message counter, so the draws follow the
 * (deterministic) order of events.
 */
static uint64_t
delay(struct world *w, uint32_t acc)
{
	const struct sim_config *c = w->cfg;
	uint64_t k = w->msgs++;
	uint64_t d = w->lat[acc];
	if (c->jitter_us > 0) {
		d += (uint64_t)(sim_rnd_unit(c->seed, k, acc, TAG_JITTER) *
		    (double)c->jitter_us);
	}
	for (uint64_t i = 0; i < 32 && c->loss > 0.0 &&
	    sim_rnd_unit(c->seed, k, i, TAG_LOSS) < c->loss; i++) {
		d += c->retry_us;
	}
	return d;
}

/* A request the referee serves now. */
static void
count_req(struct world *w, enum sim_req r)
{
	struct sim_result *res = w->res;
	res->req[r]++;
	size_t sec = (size_t)(w->now / 1000000);
	if (sec >= w->cap_load) {
		size_t cap = w->cap_load ? w->cap_load : 256;
		while (cap <= sec) {
			cap *= 2;
		}
		uint32_t *l = realloc(res->load, cap * sizeof(*l));
		if (l == NULL) {
			fail(w, RF_ERR_NOMEM, "load buckets: out of memory");
			return;
		}
		memset(l + w->cap_load, 0, (cap - w->cap_load) * sizeof(*l));
		res->load = l;
		w->cap_load = cap;
	}
	if (sec >= res->n_load) {
		res->n_load = sec + 1;
	}
	res->load[sec]++;
}

static uint32_t
job_new(struct world *w)
{
	uint32_t i;
	if (w->free_jobs != NONE) {
		i = w->free_jobs;
		w->free_jobs = w->jobs[i].qnext;
	} else {
		if (w->n_jobs == w->cap_jobs) {
			uint32_t cap = w->cap_jobs ? w->cap_jobs * 2 : 4096;
			struct sim_job *nj = realloc(w->jobs, (size_t)cap * sizeof(*nj));
			if (nj == NULL) {
				fail(w, RF_ERR_NOMEM, "jobs: out of memory");
				return NONE;
			}
			w->jobs = nj;
			w->cap_jobs = cap;
		}
		i = w->n_jobs++;
	}
	struct sim_job *j = &w->jobs[i];
	memset(j, 0, sizeof(*j));
	j->exec = j->qnext = j->disputes = NONE;
	j->lie_at = j->lie_second = NO_LIE;
	j->live = true;
	w->live_jobs++;
	if (w->live_jobs > w->res->jobs_peak) {
		w->res->jobs_peak = w->live_jobs;
	}
	return i;
}

static bool
terminal(const struct sim_job *j)
{
	return j->state == PROTO_JOB_FINAL || j->state == PROTO_JOB_INVALID ||
	    j->state == JOB_REFUSED;
}

static void
dispute_free(struct dispute *d)
{
	if (d->leaves[BISECT_CHALLENGER] != d->honest) {
		free(d->leaves[BISECT_CHALLENGER]);
	}
	if (d->leaves[BISECT_EXECUTOR] != d->honest) {
		free(d->leaves[BISECT_EXECUTOR]);
	}
	free(d->honest);
	d->leaves[0] = d->leaves[1] = d->honest = NULL;
	if (d->real) {
		engine_tensor_fini(&d->input);
		d->real = false;
	}
}

static void jobs_csv_row(struct world *w, const struct sim_job *j);

/* Frees a job that is over and that nothing refers to any more, with
 * its disputes. */
static void
job_release(struct world *w, uint32_t ji)
{
	struct sim_job *j = &w->jobs[ji];
	if (j->refs > 0 || !j->live || !terminal(j)) {
		return;
	}
	jobs_csv_row(w, j);
	for (uint32_t di = j->disputes; di != NONE;) {
		struct dispute *d = w->ds[di];
		uint32_t next = d->next;
		dispute_free(d);
		free(d);
		w->ds[di] = NULL;
		di = next;
	}
	j->live = false;
	j->qnext = w->free_jobs;
	w->free_jobs = ji;
	w->live_jobs--;
}

static void
job_unref(struct world *w, uint32_t ji)
{
	w->jobs[ji].refs--;
	job_release(w, ji);
}

/* A closed dispute with no events left lets go of its job. */
static void
dispute_unhold(struct world *w, uint32_t di)
{
	struct dispute *d = w->ds[di];
	if (d->refs == 0 && !d->open && !d->released) {
		d->released = true;
		job_unref(w, d->job);
	}
}

static void
dispute_unref(struct world *w, uint32_t di)
{
	w->ds[di]->refs--;
	dispute_unhold(w, di);
}

/* Unfinished jobs per executor count OPEN and CLAIMED ones, as the
 * referee's executor_pick does. */
static bool
counts(uint8_t s)
{
	return s == PROTO_JOB_OPEN || s == PROTO_JOB_CLAIMED;
}

static void
job_state(struct world *w, struct sim_job *j, uint8_t s)
{
	int d = (int)counts(s) - (int)counts(j->state);
	j->state = s;
	if (d != 0 && j->exec != NONE) {
		w->load[j->exec] = (uint32_t)((int64_t)w->load[j->exec] + d);
		sim_xheap_update(&w->pick[w->ex[j->exec].model], j->exec);
	}
}

static uint32_t
rec_lie(const struct sim_job *j)
{
	return j->rec ? j->lie_second : j->lie_at;
}

static void
push_fin(struct world *w, uint64_t us)
{
	if (w->n_fin == w->cap_fin) {
		size_t cap = w->cap_fin ? w->cap_fin * 2 : 4096;
		uint64_t *f = realloc(w->fin, cap * sizeof(*f));
		if (f == NULL) {
			fail(w, RF_ERR_NOMEM, "finality samples: out of memory");
			return;
		}
		w->fin = f;
		w->cap_fin = cap;
	}
	w->fin[w->n_fin++] = us;
}

/* ------------------------------------------------------------------ */
/* chain/ records and effects on the arrays                             */
/* ------------------------------------------------------------------ */

/* A claim refused for want of free stake is sent again this much later
 * (the executor's resend loop). */
#define CLAIM_RESEND_US 250000

static struct chain_account
acct(const struct world *w, uint32_t a)
{
	struct chain_account c = { w->bal[a], w->stk[a], w->lck[a] };
	return c;
}

static struct chain_job
cjob(const struct world *w, const struct sim_job *j)
{
	struct chain_job c;
	c.state = j->state == JOB_REFUSED ? 0 : j->state;
	c.fee = j->fee;
	c.deadline_ms = j->deadline;
	c.window_end_ms = j->window_end;
	/* A slash since the claim took its collateral with the stake. */
	c.collateral = j->exec != NONE && j->epoch == w->ex[j->exec].epoch ?
	    j->collateral : 0;
	return c;
}

/* The accounts playing each role for job j (chal: a challenger or
 * NONE). */
static void
roles_of(const struct world *w, const struct sim_job *j, uint32_t chal,
    uint32_t roles[CHAIN_PARTY_MAX + 1])
{
	for (int i = 0; i <= CHAIN_PARTY_MAX; i++) {
		roles[i] = NONE;
	}
	roles[CHAIN_CLIENT] = acc_client(w, j->client);
	roles[CHAIN_EXECUTOR] = j->exec != NONE ? acc_exec(j->exec) : NONE;
	roles[CHAIN_CHALLENGER] = chal != NONE ? acc_chal(w, chal) : NONE;
}

static uint64_t *
place(struct sim_ledger *l, const uint32_t *roles, uint8_t party, uint8_t pl)
{
	switch (pl) {
	case CHAIN_BALANCE:
		return &l->bal[roles[party]];
	case CHAIN_STAKE:
		return &l->stk[roles[party]];
	case CHAIN_LOCKED:
		return &l->lck[roles[party]];
	case CHAIN_ESCROW:
		return &l->escrow;
	case CHAIN_BOND:
		return &l->bonds;
	default:
		return &l->burned;
	}
}

static bool
account_place(uint8_t pl)
{
	return pl == CHAIN_BALANCE || pl == CHAIN_STAKE || pl == CHAIN_LOCKED;
}

int
sim_ledger_apply(struct sim_ledger *l,
    const uint32_t roles[CHAIN_PARTY_MAX + 1], const struct chain_job *j,
    const struct chain_dispute *d, const struct chain_effects *e,
    struct rf_errinfo *ei)
{
	struct chain_before b;
	memset(&b, 0, sizeof(b));
	for (int i = 1; i <= CHAIN_PARTY_MAX; i++) {
		if (roles[i] != SIM_NOBODY) {
			b.acc[i].balance = l->bal[roles[i]];
			b.acc[i].stake = l->stk[roles[i]];
			b.acc[i].locked = l->lck[roles[i]];
		}
	}
	b.job = j;
	b.dispute = d;
	int err = chain_effects_check(&b, e, ei);
	if (err != RF_OK) {
		return err;
	}
	for (size_t i = 0; i < e->n_moves; i++) {
		const struct chain_move *m = &e->moves[i];
		if ((account_place(m->from) && roles[m->from_party] == SIM_NOBODY) ||
		    (account_place(m->to) && roles[m->to_party] == SIM_NOBODY)) {
			return rf_errf(ei, RF_ERR_INVAL, "move %zu names an absent "
			    "party", i);
		}
	}
	for (size_t i = 0; i < e->n_moves; i++) {
		const struct chain_move *m = &e->moves[i];
		*place(l, roles, m->from_party, m->from) -= m->amount;
		*place(l, roles, m->to_party, m->to) += m->amount;
	}
	return RF_OK;
}

/* A rule's effects on the world's ledger; false (and the run fails)
 * when the invariant would break. */
static bool
apply(struct world *w, const uint32_t *roles, const struct chain_job *cj,
    const struct chain_dispute *cd, const struct chain_effects *e)
{
	struct sim_ledger l = { w->bal, w->stk, w->lck, w->escrow, w->bonds,
		w->burned };
	struct rf_errinfo ei = { "" };
	if (sim_ledger_apply(&l, roles, cj, cd, e, &ei) != RF_OK) {
		fail(w, RF_ERR_INVAL, "ledger invariant: %s", ei.msg);
		return false;
	}
	w->escrow = l.escrow;
	w->bonds = l.bonds;
	w->burned = l.burned;
	return true;
}

static bool
escrowed(uint8_t s)
{
	return s == PROTO_JOB_OPEN || s == PROTO_JOB_CLAIMED ||
	    s == PROTO_JOB_DISPUTED;
}

/* ------------------------------------------------------------------ */
/* Arrivals                                                             */
/* ------------------------------------------------------------------ */

/* Reads the next arrival of the trace file; false at its end. */
static bool
trace_next(struct world *w, uint64_t *t)
{
	const struct sim_config *c = w->cfg;
	char line[256];
	while (fgets(line, sizeof(line), (FILE *)w->trace) != NULL) {
		w->trace_line++;
		char *p = line;
		while (*p == ' ' || *p == '\t') {
			p++;
		}
		if (*p == '#' || *p == '\n' || *p == '\r' || *p == '\0') {
			continue;
		}
		char *end;
		unsigned long long v[3] = { 0, c->fee, 0 };
		int n = 0;
		while (n < 3) {
			v[n] = strtoull(p, &end, 10);
			if (end == p) {
				break;
			}
			n++;
			p = end;
		}
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') {
			p++;
		}
		if (n == 0 || *p != '\0' || v[0] < w->now) {
			fail(w, RF_ERR_FORMAT, "%s:%llu: expected 'time_us [fee "
			    "[model]]' with times in order", c->trace_file,
			    (unsigned long long)w->trace_line);
			return false;
		}
		if (n < 3) {
			v[2] = sim_rnd_u64(c->seed, w->trace_line, 0, TAG_MODEL);
		}
		*t = v[0];
		w->tr_fee = n >= 2 ? v[1] : c->fee;
		w->tr_model = (uint32_t)(v[2] % c->models);
		return true;
	}
	return false;
}

static void
next_arrival(struct world *w)
{
	const struct sim_config *c = w->cfg;
	if (w->arrived >= c->jobs) {
		return;
	}
	if (w->trace != NULL) {
		uint64_t t;
		if (trace_next(w, &t)) {
			at(w, t, EV_ARRIVE, 0, 0, 0);
		}
		return;
	}
	double rate = c->client_rate > 0.0 ? c->client_rate * c->clients :
	    c->rate;
	double u = sim_rnd_unit(c->seed, w->arrived, 0, TAG_ARRIVAL);
	double dt = -sim_ln(1.0 - u) / rate * 1e6;
	uint64_t t = w->now + (uint64_t)dt;
	if (c->duration_us > 0 && t > c->duration_us) {
		return;
	}
	at(w, t, EV_ARRIVE, 0, 0, 0);
}

static void
on_arrive(struct world *w)
{
	const struct sim_config *c = w->cfg;
	uint32_t ji = job_new(w);
	if (ji == NONE) {
		return;
	}
	struct sim_job *j = &w->jobs[ji];
	j->id = w->arrived++;
	j->t_arrive = w->now;
	j->client = (uint32_t)(sim_rnd_u64(c->seed, j->id, 0, TAG_CLIENT) %
	    c->clients);
	if (w->trace != NULL) {
		j->fee = w->tr_fee;
		j->model = w->tr_model;
	} else {
		j->model = (uint32_t)(sim_rnd_u64(c->seed, j->id, 0, TAG_MODEL) %
		    c->models);
		j->fee = c->fee;
		if (c->fee_max > c->fee) {
			j->fee += sim_rnd_u64(c->seed, j->id, 0, TAG_FEE) %
			    (c->fee_max - c->fee + 1);
		}
	}
	w->res->jobs++;
	at(w, w->now + delay(w, acc_client(w, j->client)), EV_SUBMIT, ji, 0, 0);
	next_arrival(w);
}

/* ------------------------------------------------------------------ */
/* Jobs and claims                                                      */
/* ------------------------------------------------------------------ */

/* h_submit: pick the least loaded eligible executor; chain_submit
 * escrows the fee. The simulator keeps no per-client job count: its
 * max_open_jobs is 0 (no cap). */
static void
on_submit(struct world *w, uint32_t ji)
{
	struct sim_job *j = &w->jobs[ji];
	count_req(w, SIM_REQ_SUBMIT);
	uint32_t cl = acc_client(w, j->client);
	struct xheap *x = &w->pick[j->model];
	struct chain_account ca = acct(w, cl);
	struct chain_job cj = cjob(w, j);
	struct chain_effects e;
	chain_submit(&w->cp, &ca, j->fee, 0, w->now, &e);
	if (x->n == 0 || e.refused != 0) {
		j->state = JOB_REFUSED;
		w->res->refused++;
		w->done++;
		return;
	}
	uint32_t ex = x->h[0];
	j->exec = ex;
	uint32_t roles[CHAIN_PARTY_MAX + 1];
	roles_of(w, j, NONE, roles);
	if (!apply(w, roles, &cj, NULL, &e)) {
		return;
	}
	j->deadline = e.deadline_ms;
	job_state(w, j, PROTO_JOB_OPEN);
	if (w->cfg->job_deadline_us > 0) {
		at(w, j->deadline, EV_DEADLINE, ji, 0, 0);
	}
	/* The assignment event, then the executor's fetch of the job. */
	uint32_t a = acc_exec(ex);
	uint64_t t = delay(w, a);
	t += delay(w, a);
	t += delay(w, a);
	at(w, w->now + t, EV_ASSIGN, ji, 0, 0);
}

static void
start_exec(struct world *w, uint32_t e)
{
	const struct sim_config *c = w->cfg;
	struct sim_executor *x = &w->ex[e];
	if (x->busy || x->qhead == NONE) {
		return;
	}
	uint32_t ji = x->qhead;
	struct sim_job *j = &w->jobs[ji];
	x->qhead = j->qnext;
	if (x->qhead == NONE) {
		x->qtail = NONE;
	}
	j->qnext = NONE;
	x->busy = true;
	sim_exec_decide(w, e, j);
	/* A lazy cheater computes nothing; everyone else runs the model. */
	bool lazy = j->lie_at != NO_LIE && (j->kind == SIM_EX_RANDOM ||
	    j->kind == SIM_EX_RATIONAL);
	uint64_t t = c->op_us;
	if (!lazy) {
		double u = sim_rnd_unit(c->seed, j->id, 0, TAG_COMPUTE);
		t = (uint64_t)((double)c->ops * (double)c->op_us * (0.75 + 0.5 * u));
		x->work += c->work_cost;
		w->res->exec_ops += c->ops;
	}
	at(w, w->now + t, EV_EXEC_DONE, ji, e, 0);
	job_unref(w, ji); /* the queue's hold */
}

static void
on_assign(struct world *w, uint32_t ji)
{
	struct sim_job *j = &w->jobs[ji];
	struct sim_executor *x = &w->ex[j->exec];
	count_req(w, SIM_REQ_JOB_FETCH);
	j->qnext = NONE;
	if (x->qtail == NONE) {
		x->qhead = ji;
	} else {
		w->jobs[x->qtail].qnext = ji;
	}
	x->qtail = ji;
	j->refs++; /* held while queued */
	start_exec(w, j->exec);
}

static void
on_exec_done(struct world *w, uint32_t ji, uint32_t e)
{
	struct sim_job *j = &w->jobs[ji];
	uint32_t a = acc_exec(e);
	w->ex[e].busy = false;
	at(w, w->now + delay(w, a), EV_CLAIM, ji, 0, 0);
	if (j->lie_second != NO_LIE) {
		at(w, w->now + w->cfg->equivocate_us + delay(w, a), EV_CLAIM, ji,
		    1, 0);
	}
	start_exec(w, e);
}

/* timers.c finalize_expired: chain_finalize pays the escrowed fee to
 * the executor and unlocks its collateral. */
static void
finalize(struct world *w, struct sim_job *j)
{
	struct sim_executor *x = &w->ex[j->exec];
	struct chain_job cj = cjob(w, j);
	struct chain_account xa = acct(w, acc_exec(j->exec));
	struct chain_effects e;
	chain_finalize(&w->cp, &cj, &xa, w->now, &e);
	uint32_t roles[CHAIN_PARTY_MAX + 1];
	roles_of(w, j, NONE, roles);
	if (e.refused != 0 || !apply(w, roles, &cj, NULL, &e)) {
		return;
	}
	job_state(w, j, PROTO_JOB_FINAL);
	x->fees += j->fee;
	x->jobs++;
	w->res->final++;
	w->res->fees_paid += j->fee;
	if (j->lied) {
		w->res->frauds[j->kind]++;
		w->res->fraud_value += j->fee;
	}
	push_fin(w, w->now - j->t_arrive);
	w->done++;
}

static void settle(struct world *w, uint32_t di);
static void record(struct world *w, const struct dispute *d, uint64_t slashed,
    uint64_t reward);

/*
 * A claim fell (chain_verdict or chain_equivocation computed e): apply
 * the money, then what the referee does per record: the claim is
 * invalid, every other open dispute on it is settled, the executor's
 * other open claims lose their collateral. The referee also gives the
 * slashed executor's open jobs to others (chain_job_reassign); the
 * simulator does not: with restake the executor keeps its queue as a
 * fresh identity, without it its open jobs are counted as orphaned.
 */
static void
falls(struct world *w, uint32_t ji, const uint32_t *roles,
    const struct chain_job *cj, const struct chain_dispute *cd,
    const struct chain_effects *e, uint32_t except)
{
	const struct sim_config *c = w->cfg;
	struct sim_job *j = &w->jobs[ji];
	struct sim_executor *x = &w->ex[j->exec];
	uint32_t ea = acc_exec(j->exec);
	bool was_final = j->state == PROTO_JOB_FINAL;
	bool refund = escrowed(j->state);
	if (!apply(w, roles, cj, cd, e)) {
		return;
	}
	w->res->slashed += e->slashed;
	w->res->rewards += e->reward;
	x->slashed += e->slashed;
	if (refund) {
		w->res->fees_refunded += j->fee;
	}
	if (e->claims_uncovered) {
		x->epoch++;
	}
	job_state(w, j, PROTO_JOB_INVALID);
	for (uint32_t di = j->disputes; di != NONE; di = w->ds[di]->next) {
		if (di != except && w->ds[di]->open) {
			settle(w, di);
		}
	}
	w->res->invalid++;
	if (j->lied) {
		w->res->caught[j->kind]++;
		w->res->caught_value += j->fee;
	} else {
		w->res->honest_invalid++;
	}
	if (!was_final) {
		if (j->lied) {
			w->res->frauds[j->kind]++;
			w->res->fraud_value += j->fee;
		}
		w->inv_sum += (double)(w->now - j->t_arrive);
		w->inv_n++;
		x->jobs++;
		w->done++;
	}
	/* Public record: a verdict against it. Below the minimum stake it
	 * can take no jobs; with restake it comes back as a new identity,
	 * staking through chain_stake. */
	x->flagged = true;
	struct chain_account xa = acct(w, ea);
	if (!chain_executor_eligible(&w->cp, &xa)) {
		sim_xheap_remove(&w->pick[x->model], j->exec);
		struct chain_effects st;
		chain_stake(&w->cp, &xa, c->stake, &st);
		if (c->restake && e->slashed > 0 && st.refused == 0 &&
		    c->stake >= c->min_stake) {
			uint32_t sr[CHAIN_PARTY_MAX + 1];
			roles_of(w, j, NONE, sr);
			if (!apply(w, sr, NULL, NULL, &st)) {
				return;
			}
			x->claims_seen = 0;
			x->flagged = false;
			sim_xheap_insert(&w->pick[x->model], j->exec);
		}
	}
}

/* The earliest open dispute on j (the one that caught the liar first),
 * or NONE. */
static uint32_t
earliest_open(const struct world *w, const struct sim_job *j)
{
	uint32_t best = NONE;
	for (uint32_t di = j->disputes; di != NONE; di = w->ds[di]->next) {
		const struct dispute *d = w->ds[di];
		if (d->open && (best == NONE || d->t_open < w->ds[best]->t_open ||
		    (d->t_open == w->ds[best]->t_open && di < best))) {
			best = di;
		}
	}
	return best;
}

/* h_claim through chain_claim. A claim refused for want of free stake
 * (its collateral is locked by open claims) is sent again later, as the
 * executor does; other refusals leave the job open. */
static void
on_claim(struct world *w, uint32_t ji, uint32_t which)
{
	struct sim_job *j = &w->jobs[ji];
	count_req(w, SIM_REQ_CLAIM);
	struct chain_job cj = cjob(w, j);
	struct chain_account xa = acct(w, acc_exec(j->exec));
	struct chain_effects e;
	if (j->n_claims > 0) {
		if (which == j->rec || j->state == PROTO_JOB_INVALID) {
			return; /* a retry, or the claim is already void */
		}
		/* Two different signed claims: the referee holds the proof of
		 * equivocation itself; the challenger that disputed the claim
		 * first, if any, is paid (chain_equivocation). */
		w->res->equivocations++;
		uint32_t first = earliest_open(w, j);
		struct chain_dispute cd = { CHAIN_DISPUTE_OPEN, 0 };
		if (first != NONE) {
			cd.bond = w->ds[first]->bond;
		}
		chain_equivocation(&w->cp, &cj, &xa, first != NONE ? &cd : NULL,
		    &e);
		if (e.refused != 0) {
			return;
		}
		uint32_t roles[CHAIN_PARTY_MAX + 1];
		roles_of(w, j, first != NONE ? w->ds[first]->chal : NONE, roles);
		falls(w, ji, roles, &cj, NULL, &e, NONE);
		return;
	}
	chain_claim(&w->cp, &cj, &xa, w->now, &e);
	if (e.refused != 0) {
		if (e.refused == PROTO_ERR_STAKE && j->state == PROTO_JOB_OPEN &&
		    chain_executor_eligible(&w->cp, &xa)) {
			at(w, w->now + CLAIM_RESEND_US, EV_CLAIM, ji, which, 0);
		}
		return;
	}
	uint32_t roles[CHAIN_PARTY_MAX + 1];
	roles_of(w, j, NONE, roles);
	if (!apply(w, roles, &cj, NULL, &e)) {
		return;
	}
	j->n_claims = 1;
	j->rec = (uint8_t)which;
	job_state(w, j, PROTO_JOB_CLAIMED);
	j->window_end = e.window_end_ms;
	j->collateral = e.collateral;
	j->epoch = w->ex[j->exec].epoch;
	at(w, j->window_end, EV_WINDOW, ji, 0, 0);
	w->res->claims++;
	/* CLAIM_POSTED reaches every challenger holding the model; each
	 * decides by its own sample. Only those that verify get an event:
	 * the decision is a pure function of (seed, job), so deciding here
	 * is the same as deciding on arrival, and far cheaper. */
	uint32_t m = j->model;
	for (uint32_t i = 0; i < w->n_watch[m]; i++) {
		uint32_t ch = w->watch[m][i];
		if (sim_sampled(w, ch, j)) {
			at(w, w->now + delay(w, acc_chal(w, ch)), EV_VERIFY_SEEN, ji, ch,
			    0);
		}
	}
	w->ex[j->exec].claims_seen++;
}

/* An open job past its deadline: chain_job_expire refunds the fee and
 * burns the penalty from the executor that never claimed it. */
static void
on_deadline(struct world *w, uint32_t ji)
{
	struct sim_job *j = &w->jobs[ji];
	struct chain_job cj = cjob(w, j);
	struct chain_account xa = acct(w, acc_exec(j->exec));
	struct chain_effects e;
	chain_job_expire(&w->cp, &cj, &xa, w->now, &e);
	if (e.refused != 0) {
		return; /* claimed in time */
	}
	uint32_t roles[CHAIN_PARTY_MAX + 1];
	roles_of(w, j, NONE, roles);
	if (!apply(w, roles, &cj, NULL, &e)) {
		return;
	}
	job_state(w, j, PROTO_JOB_INVALID);
	w->ex[j->exec].slashed += e.slashed;
	w->res->slashed += e.slashed;
	w->res->fees_refunded += j->fee;
	w->res->expired++;
	w->done++;
}

static void
on_window(struct world *w, uint32_t ji)
{
	struct sim_job *j = &w->jobs[ji];
	if (j->state == PROTO_JOB_CLAIMED) {
		finalize(w, j);
	}
}

/* ------------------------------------------------------------------ */
/* Challengers                                                          */
/* ------------------------------------------------------------------ */

static void
start_verify(struct world *w, uint32_t ch)
{
	const struct sim_config *c = w->cfg;
	struct sim_challenger *x = &w->ch[ch];
	if (x->busy >= c->verify_slots || x->qn == 0) {
		return;
	}
	uint32_t ji = x->q[x->qh];
	x->qh = (x->qh + 1) % x->qcap;
	x->qn--;
	struct sim_job *j = &w->jobs[ji];
	x->busy++;
	if (w->now >= j->window_end) {
		w->res->verify_late++;
	}
	/* challenger.c: fetch the job (a round trip), then ask for the
	 * claim's state; what that query reads decides whether it may
	 * dispute (only a claim still CLAIMED). */
	count_req(w, SIM_REQ_JOB_FETCH);
	uint32_t a = acc_chal(w, ch);
	uint64_t t = delay(w, a);
	t += delay(w, a);
	t += delay(w, a);
	at(w, w->now + t, EV_STATUS, ji, ch, 0);
	job_unref(w, ji); /* the queue's hold */
}

static void
on_status(struct world *w, uint32_t ji, uint32_t ch)
{
	const struct sim_config *c = w->cfg;
	struct sim_job *j = &w->jobs[ji];
	count_req(w, SIM_REQ_CLAIM_STATUS);
	uint64_t t = delay(w, acc_chal(w, ch));
	/* Then it re-executes; a griefer that disputes regardless has no
	 * reason to compute, so it does not. */
	if (w->ch[ch].kind != SIM_CH_SILENT) {
		double u = sim_rnd_unit(c->seed, j->id, ch, TAG_VERIFY);
		t += (uint64_t)((double)c->ops * (double)c->op_us *
		    c->verify_speed * (0.75 + 0.5 * u));
		w->res->verify_ops += c->ops;
	}
	w->res->verifications++;
	at(w, w->now + t, EV_VERIFY_DONE, ji, ch, j->state);
}

static void
on_verify_seen(struct world *w, uint32_t ji, uint32_t ch)
{
	struct sim_challenger *x = &w->ch[ch];
	if (x->qn == x->qcap) {
		size_t cap = x->qcap ? x->qcap * 2 : 16;
		uint32_t *q = malloc(cap * sizeof(*q));
		if (q == NULL) {
			fail(w, RF_ERR_NOMEM, "challenger queue: out of memory");
			return;
		}
		for (size_t i = 0; i < x->qn; i++) {
			q[i] = x->q[(x->qh + i) % x->qcap];
		}
		free(x->q);
		x->q = q;
		x->qh = 0;
		x->qcap = cap;
	}
	x->q[(x->qh + x->qn) % x->qcap] = ji;
	x->qn++;
	w->jobs[ji].refs++;
	start_verify(w, ch);
}

static void
on_verify_done(struct world *w, uint32_t ji, uint32_t ch, uint32_t seen)
{
	struct sim_challenger *x = &w->ch[ch];
	struct sim_job *j = &w->jobs[ji];
	x->busy--;
	bool mismatch = rec_lie(j) != NO_LIE;
	if (mismatch) {
		w->res->mismatches++;
	}
	/* challenger.c: the testing faults dispute correct claims with a
	 * made-up trace (the last leaf changed). */
	bool fake = !mismatch && (x->kind == SIM_CH_FALSE ||
	    x->kind == SIM_CH_SILENT);
	bool open = seen == PROTO_JOB_CLAIMED || (w->cfg->join_disputes &&
	    seen == PROTO_JOB_DISPUTED);
	if ((mismatch || fake) && open) {
		at(w, w->now + delay(w, acc_chal(w, ch)), EV_CHALLENGE, ji, ch,
		    fake);
	}
	start_verify(w, ch);
}

/* ------------------------------------------------------------------ */
/* Disputes                                                             */
/* ------------------------------------------------------------------ */

static uint32_t
dispute_new(struct world *w)
{
	/* A pointer per dispute ever opened; the disputes themselves are
	 * freed with their job. */
	if (w->n_ds == w->cap_ds) {
		uint32_t cap = w->cap_ds ? w->cap_ds * 2 : 256;
		struct dispute **nd = realloc(w->ds, (size_t)cap * sizeof(*nd));
		if (nd == NULL) {
			fail(w, RF_ERR_NOMEM, "disputes: out of memory");
			return NONE;
		}
		w->ds = nd;
		w->cap_ds = cap;
	}
	uint32_t i = w->n_ds++;
	w->ds[i] = calloc(1, sizeof(struct dispute));
	if (w->ds[i] == NULL) {
		fail(w, RF_ERR_NOMEM, "disputes: out of memory");
		return NONE;
	}
	return i;
}

static uint32_t
side_acc(const struct world *w, const struct dispute *d, int side)
{
	return side == BISECT_EXECUTOR ? acc_exec(w->jobs[d->job].exec) :
	    acc_chal(w, d->chal);
}

/* The earliest clock deadline among the sides the game waits for. */
static void
schedule_tick(struct world *w, uint32_t di)
{
	const struct bisect_game *g = &w->ds[di]->g;
	uint64_t t = UINT64_MAX;
	for (int s = 0; s < 2; s++) {
		if (bisect_waiting_for(g, (enum bisect_side)s)) {
			uint64_t dl = bisect_deadline(g, (enum bisect_side)s) * 1000;
			t = dl < t ? dl : t;
		}
	}
	if (t != UINT64_MAX) {
		at(w, t > w->now ? t : w->now, EV_TICK, di, 0, w->ds[di]->gen);
	}
}

/* The referee asks the next move of both sides (or the reveal). */
static void
announce(struct world *w, uint32_t di)
{
	struct dispute *d = w->ds[di];
	d->gen++;
	for (int s = 0; s < 2; s++) {
		if (bisect_waiting_for(&d->g, (enum bisect_side)s)) {
			at(w, w->now + delay(w, side_acc(w, d, s)), EV_QUERY, di,
			    (uint32_t)s, d->gen);
		}
	}
	schedule_tick(w, di);
}

/* --real-model: the job on a generated MLP through the engine. */
static int
real_leaves(struct world *w, struct dispute *d, const struct sim_job *j)
{
	const struct sim_config *c = w->cfg;
	struct rf_errinfo ei = { "" };
	int err;
	if (w->model == NULL) {
		struct engine_gen_opts o;
		engine_gen_opts_init(&o, ENGINE_GEN_MLP);
		o.ops = c->ops;
		err = engine_model_generate(&o, &w->model, &ei);
		if (err != RF_OK) {
			fail(w, err, "real model: %s", ei.msg);
			return err;
		}
		err = proto_trace_layout_make(w->model, NULL, 0, &w->layout, &ei);
		if (err != RF_OK) {
			fail(w, err, "real model: %s", ei.msg);
			return err;
		}
		if (w->layout.n_leaves != w->n_leaves ||
		    engine_model_input_count(w->model) != 1) {
			fail(w, RF_ERR_INVAL, "real model: %zu trace leaves, the "
			    "simulation has %u", w->layout.n_leaves, w->n_leaves);
			return RF_ERR_INVAL;
		}
		struct proto_digest *ml;
		size_t nml;
		err = proto_model_leaves(c->suite, w->model, &ml, &nml);
		if (err != RF_OK) {
			fail(w, err, "real model: model_id");
			return err;
		}
		proto_merkle_root(c->suite, ml, nml, &w->model_id);
		w->model_leaves = (uint32_t)nml;
		free(ml);
	}
	err = engine_inputs_random(w->model, c->seed ^ j->id, &d->input, &ei);
	if (err != RF_OK) {
		fail(w, err, "real model inputs: %s", ei.msg);
		return err;
	}
	d->real = true;
	struct tensor outs[ENGINE_MAX_GRAPH_IO];
	struct proto_digest root, *h = NULL;
	size_t n = 0;
	err = proto_trace_run_chunked(c->suite, w->model, &w->layout,
	    &d->input, 1, outs, ENGINE_KERNELS_FAST, &h, &n, &root, &ei);
	if (err != RF_OK) {
		fail(w, err, "real model run: %s", ei.msg);
		return err;
	}
	for (size_t i = 0; i < engine_model_output_count(w->model); i++) {
		engine_tensor_fini(&outs[i]);
	}
	/* The synthetic leaves give way to the real ones; the lies are the
	 * same positions, as bisect_test's lie() makes them. */
	free(d->honest);
	if (d->leaves[BISECT_EXECUTOR] != d->honest) {
		free(d->leaves[BISECT_EXECUTOR]);
	}
	if (d->leaves[BISECT_CHALLENGER] != d->honest) {
		free(d->leaves[BISECT_CHALLENGER]);
	}
	d->honest = h;
	d->leaves[0] = d->leaves[1] = h;
	for (int s = 0; s < 2; s++) {
		uint32_t from = s == 0 ? d->lie_at : d->chal_lie_at;
		if (from == NO_LIE) {
			continue;
		}
		struct proto_digest *l = malloc(n * sizeof(*l));
		if (l == NULL) {
			fail(w, RF_ERR_NOMEM, "real leaves");
			return RF_ERR_NOMEM;
		}
		memcpy(l, h, n * sizeof(*l));
		for (size_t i = from; i < n; i++) {
			l[i].b[0] ^= 0x5a;
			l[i].b[1] ^= (uint8_t)(i + 1);
		}
		d->leaves[s] = l;
	}
	w->res->real_disputes++;
	return RF_OK;
}

/* disputes.c h_challenge: checks, the bond, and the game's first move. */
static void
on_challenge(struct world *w, uint32_t ji, uint32_t ch, bool fake)
{
	const struct sim_config *c = w->cfg;
	struct sim_job *j = &w->jobs[ji];
	uint32_t ca = acc_chal(w, ch);
	count_req(w, SIM_REQ_CHALLENGE);
	/* The money: chain_challenge (the claim's state and window, the
	 * bond). */
	struct chain_job cj = cjob(w, j);
	struct chain_account cha = acct(w, ca);
	struct chain_dispute cd = { 0, c->bond };
	struct chain_effects e;
	chain_challenge(&w->cp, &cj, &cha, c->bond, w->now, &e);
	if (e.refused != 0) {
		return;
	}
	for (uint32_t di = j->disputes; di != NONE; di = w->ds[di]->next) {
		if (w->ds[di]->chal == ch) {
			return; /* this challenger already disputes it */
		}
	}
	uint32_t di = dispute_new(w);
	if (di == NONE) {
		return;
	}
	struct dispute *d = w->ds[di];
	d->job = ji;
	d->chal = ch;
	d->bond = c->bond;
	d->t_open = w->now;
	d->lie_at = rec_lie(j);
	d->chal_lie_at = fake ? w->n_leaves - 1 : NO_LIE;
	d->fake = fake;
	d->next = NONE;
	int err = sim_synth_leaves(w, j, NO_LIE, 0, &d->honest);
	d->leaves[0] = d->leaves[1] = d->honest;
	if (err == RF_OK && d->lie_at != NO_LIE) {
		err = sim_synth_leaves(w, j, d->lie_at, sim_claim_variant(j, j->rec),
		    &d->leaves[BISECT_EXECUTOR]);
	}
	if (err == RF_OK && fake) {
		err = sim_synth_leaves(w, j, d->chal_lie_at, sim_flip_variant(),
		    &d->leaves[BISECT_CHALLENGER]);
	}
	if (err != RF_OK) {
		fail(w, err, "dispute leaves: out of memory");
	} else if (c->real_model > w->res->real_disputes) {
		err = real_leaves(w, d, j);
	}
	/* Link it first, so whatever happens it is freed with the job. */
	d->next = j->disputes;
	j->disputes = di;
	j->refs++; /* held while open or while events name it */
	if (err != RF_OK) {
		d->released = true;
		j->refs--;
		return;
	}
	struct proto_digest re, rc;
	proto_merkle_root(c->suite, d->leaves[BISECT_EXECUTOR], w->n_leaves, &re);
	proto_merkle_root(c->suite, d->leaves[BISECT_CHALLENGER], w->n_leaves, &rc);
	uint8_t idb[16];
	memcpy(idb, &j->id, 8);
	uint64_t chv = ch;
	memcpy(idb + 8, &chv, 8);
	proto_hash(c->suite, idb, sizeof(idb), &d->id);
	err = bisect_start(&d->g, c->suite, c->arity, c->clock_us / 1000,
	    w->n_leaves, c->inputs, d->honest, &re, &rc, now_ms(w));
	if (err != RF_OK) {
		d->released = true;
		j->refs--;
		fail(w, err, "bisect_start refused a simulated dispute");
		return;
	}
	uint32_t roles[CHAIN_PARTY_MAX + 1];
	roles_of(w, j, ch, roles);
	if (!apply(w, roles, &cj, &cd, &e)) {
		d->released = true;
		j->refs--;
		return;
	}
	d->open = true;
	j->open++;
	job_state(w, j, e.job_state);
	w->res->disputes++;
	announce(w, di);
}

static bool
side_silent(const struct world *w, const struct dispute *d, int side)
{
	if (side == BISECT_EXECUTOR) {
		return w->jobs[d->job].kind == SIM_EX_SILENT && d->lie_at != NO_LIE;
	}
	return w->ch[d->chal].kind == SIM_CH_SILENT;
}

static void
on_query(struct world *w, uint32_t di, uint32_t side, uint32_t gen)
{
	const struct dispute *d = w->ds[di];
	if (!d->open || gen != d->gen || side_silent(w, d, (int)side)) {
		return;
	}
	uint64_t t = w->now + w->cfg->answer_us + delay(w, side_acc(w, d,
	    (int)side));
	if (d->g.phase == BISECT_PHASE_REVEAL) {
		at(w, t, EV_REVEAL, di, side, d->g.op);
	} else {
		at(w, t, EV_ANSWER, di, side, d->g.round);
	}
}

static void decide(struct world *w, uint32_t di);

/* h_answer: the side's answer, built from its own leaves by
 * bisect_answer_build, judged by bisect_answer. */
static void
on_answer(struct world *w, uint32_t di, uint32_t side, uint32_t round)
{
	const struct sim_config *c = w->cfg;
	struct dispute *d = w->ds[di];
	count_req(w, SIM_REQ_ANSWER);
	if (!d->open || d->g.phase != BISECT_PHASE_QUERY ||
	    d->g.round != round) {
		return;
	}
	struct proto_bisect_query q;
	bisect_query(&d->g, &d->id, &q);
	struct proto_bisect_answer *a = w->answer;
	int err = bisect_answer_build(c->suite, d->leaves[side], w->n_leaves,
	    &q, a);
	if (err != RF_OK) {
		fail(w, err, "bisect_answer_build failed in round %u", round);
		return;
	}
	if (side == BISECT_EXECUTOR && w->jobs[d->job].kind == SIM_EX_BAD_PROOF &&
	    d->lie_at != NO_LIE && a->n_roots > 0) {
		/* The cheater's proof does not lead to its committed root. */
		if (a->roots[0].proof_len > 0) {
			a->roots[0].proof[0].b[0] ^= 0x80;
		} else {
			a->roots[0].root.b[0] ^= 0x80;
		}
	}
	w->res->proofs_checked += a->n_roots;
	uint32_t r0 = d->g.round;
	enum bisect_phase p0 = d->g.phase;
	bisect_answer(&d->g, (enum bisect_side)side, a, now_ms(w), NULL);
	proto_bisect_answer_free(a);
	if (d->g.phase == BISECT_PHASE_DONE) {
		decide(w, di);
	} else if (d->g.round != r0 || d->g.phase != p0) {
		announce(w, di);
	}
}

static void
real_reveal(struct world *w, struct dispute *d)
{
	const struct sim_config *c = w->cfg;
	struct bisect_chunk_reveal m;
	struct rf_errinfo ei = { "" };
	int err = bisect_chunk_reveal_build(c->suite, w->model, &w->layout,
	    &d->input, d->leaves[BISECT_EXECUTOR], w->n_leaves, d->g.lo, &m,
	    &ei);
	if (err != RF_OK) {
		fail(w, err, "bisect_chunk_reveal_build: %s", ei.msg);
		return;
	}
	bisect_reveal_chunk(&d->g, w->model, &w->layout, &w->model_id,
	    w->model_leaves, &m, now_ms(w), NULL);
	bisect_chunk_reveal_free(&m);
}

/*
 * h_reveal. Synthetic traces have no tensors, so the referee's
 * recomputation of the operator is replaced by the simulator's knowledge
 * of the true leaf at index lo; bisect_reveal_leaf then makes exactly the
 * comparison bisect_reveal makes (fold it onto the executor's frontier
 * of the agreed prefix, compare with each side's root of size lo + 1).
 */
static void
on_reveal(struct world *w, uint32_t di, uint32_t op)
{
	const struct sim_config *c = w->cfg;
	struct dispute *d = w->ds[di];
	count_req(w, SIM_REQ_REVEAL);
	if (!d->open || d->g.phase != BISECT_PHASE_REVEAL || d->g.op != op) {
		return;
	}
	w->res->one_steps++;
	if (d->real) {
		real_reveal(w, d);
	} else {
		struct proto_digest fr[MERKLE_MAX_PROOF];
		size_t len;
		int err = proto_merkle_frontier(c->suite, d->leaves[BISECT_EXECUTOR],
		    (size_t)d->g.lo, fr, &len);
		if (err != RF_OK) {
			fail(w, err, "merkle_frontier failed");
			return;
		}
		bisect_reveal_leaf(&d->g, op, fr, len, &d->honest[d->g.lo],
		    now_ms(w), NULL);
	}
	if (d->g.phase == BISECT_PHASE_DONE) {
		decide(w, di);
	}
}

/* disputes.c disputes_tick, at the exact deadline instead of on a 50 ms
 * timer. */
static void
on_tick(struct world *w, uint32_t di, uint32_t gen)
{
	struct dispute *d = w->ds[di];
	if (!d->open || gen != d->gen) {
		return;
	}
	if (bisect_tick(&d->g, now_ms(w))) {
		decide(w, di);
		return;
	}
	schedule_tick(w, di);
}

static void
record(struct world *w, const struct dispute *d, uint64_t slashed,
    uint64_t reward)
{
	const struct sim_config *c = w->cfg;
	struct sim_result *res = w->res;
	const struct bisect_game *g = &d->g;
	if (res->n_recs == w->cap_recs) {
		size_t cap = w->cap_recs ? w->cap_recs * 2 : 256;
		struct sim_dispute_rec *r = realloc(res->recs, cap * sizeof(*r));
		if (r == NULL) {
			fail(w, RF_ERR_NOMEM, "dispute records: out of memory");
			return;
		}
		res->recs = r;
		w->cap_recs = cap;
	}
	struct sim_dispute_rec *r = &res->recs[res->n_recs++];
	memset(r, 0, sizeof(*r));
	const struct sim_job *j = &w->jobs[d->job];
	r->job = j->id;
	r->exec_kind = j->kind;
	r->chal_kind = w->ch[d->chal].kind;
	r->executor_won = g->executor_won;
	r->challenger_right = g->challenger_right;
	r->reason = g->reason;
	r->real = d->real;
	r->lie_op = d->lie_at == NO_LIE ? -1 : (int64_t)(d->lie_at - c->inputs);
	/* The operator is known once the game reached the one step. */
	r->op = g->reason == PROTO_VERDICT_RECOMPUTED ||
	    (g->hi - g->lo == 1 && g->reason != PROTO_VERDICT_SETTLED) ?
	    (int64_t)g->op : -1;
	r->rounds = g->rounds;
	r->duration_us = w->now - d->t_open;
	r->slashed = slashed;
	r->reward = reward;
	if (g->reason < 6) {
		res->by_reason[g->reason]++;
	}
	if (g->reason == PROTO_VERDICT_SETTLED) {
		return;
	}
	res->rounds_sum += g->rounds;
	res->rounds_max = g->rounds > res->rounds_max ? g->rounds :
	    res->rounds_max;
	res->duration_sum_us += r->duration_us;
	if (r->duration_us > res->duration_max_us) {
		res->duration_max_us = r->duration_us;
	}
	if (g->reason == PROTO_VERDICT_RECOMPUTED && d->lie_at != NO_LIE &&
	    !d->fake) {
		res->lie_disputes++;
		res->lie_found += r->op == r->lie_op;
	}
}

static void
dispute_closed(struct world *w, uint32_t di)
{
	struct dispute *d = w->ds[di];
	d->open = false;
	w->jobs[d->job].open--;
	dispute_free(d);
	dispute_unhold(w, di);
}

/* disputes.c settle through chain_dispute_settle: another dispute
 * proved the claim false first; the bond goes back and nobody is
 * slashed twice. */
static void
settle(struct world *w, uint32_t di)
{
	struct dispute *d = w->ds[di];
	struct chain_dispute cd = { CHAIN_DISPUTE_OPEN, d->bond };
	struct chain_effects e;
	chain_dispute_settle(&w->cp, &cd, &e);
	uint32_t roles[CHAIN_PARTY_MAX + 1];
	roles_of(w, &w->jobs[d->job], d->chal, roles);
	if (e.refused != 0 || !apply(w, roles, NULL, &cd, &e)) {
		return;
	}
	d->g.phase = BISECT_PHASE_DONE;
	d->g.executor_won = false;
	d->g.challenger_right = true;
	d->g.reason = e.reason;
	w->res->settled++;
	record(w, d, 0, 0);
	dispute_closed(w, di);
}

/* disputes.c decide: chain_verdict moves the money. */
static void
decide(struct world *w, uint32_t di)
{
	struct dispute *d = w->ds[di];
	uint32_t ji = d->job;
	struct sim_job *j = &w->jobs[ji];
	const struct bisect_game *g = &d->g;
	struct chain_job cj = cjob(w, j);
	struct chain_account xa = acct(w, acc_exec(j->exec));
	struct chain_dispute cd = { CHAIN_DISPUTE_OPEN, d->bond };
	struct chain_effects e;
	chain_verdict(&w->cp, &cj, &xa, &cd, g->executor_won,
	    g->challenger_right, j->open - 1u, &e);
	if (e.refused != 0) {
		fail(w, RF_ERR_INVAL, "a verdict on a decided dispute");
		return;
	}
	uint32_t roles[CHAIN_PARTY_MAX + 1];
	roles_of(w, j, d->chal, roles);
	if (g->executor_won) {
		if (!apply(w, roles, &cj, &cd, &e)) {
			return;
		}
		w->ex[j->exec].bonds += d->bond;
		w->res->disputes_won_exec++;
		if (e.job_state == PROTO_JOB_CLAIMED) {
			/* Back in its window; once it has passed, the referee's
			 * next timer tick finalises it (here: at once). */
			job_state(w, j, PROTO_JOB_CLAIMED);
			if (w->now >= j->window_end) {
				finalize(w, j);
			}
		}
	} else {
		/* The dispute is closed before the others are settled, as the
		 * referee saves it first. */
		falls(w, ji, roles, &cj, &cd, &e, di);
		if (!g->challenger_right) {
			w->res->bonds_lost += d->bond;
		}
	}
	record(w, d, e.slashed, e.reward);
	dispute_closed(w, di);
}

/* ------------------------------------------------------------------ */
/* The ledger                                                           */
/* ------------------------------------------------------------------ */

bool
sim_world_ledger_ok(const struct world *w, uint64_t *total)
{
	uint64_t t = 0, escrow = 0, bonds = 0;
	for (uint32_t i = 0; i < w->n_acc; i++) {
		t += w->bal[i] + w->stk[i] + w->lck[i];
	}
	/* Escrow and bonds recounted from the jobs and disputes themselves,
	 * not from the running totals. */
	for (uint32_t i = 0; i < w->n_jobs; i++) {
		const struct sim_job *j = &w->jobs[i];
		if (j->live && (j->state == PROTO_JOB_OPEN ||
		    j->state == PROTO_JOB_CLAIMED ||
		    j->state == PROTO_JOB_DISPUTED)) {
			escrow += j->fee;
		}
	}
	for (uint32_t i = 0; i < w->n_ds; i++) {
		if (w->ds[i] != NULL && w->ds[i]->open) {
			bonds += w->ds[i]->bond;
		}
	}
	t += escrow + bonds + w->burned;
	*total = t;
	return t == w->minted && escrow == w->escrow && bonds == w->bonds;
}

/* ------------------------------------------------------------------ */
/* Jobs CSV                                                             */
/* ------------------------------------------------------------------ */

static void
jobs_csv_row(struct world *w, const struct sim_job *j)
{
	FILE *f = (FILE *)w->jobs_out;
	if (f == NULL) {
		return;
	}
	const char *st = j->state == PROTO_JOB_FINAL ? "final" :
	    j->state == PROTO_JOB_INVALID ? "invalid" : "refused";
	fprintf(f, "%llu,%llu,%u,%u,%u,%llu,%s,%d,%s\n",
	    (unsigned long long)j->id, (unsigned long long)j->t_arrive,
	    j->client, j->exec == NONE ? 0 : j->exec, j->model,
	    (unsigned long long)j->fee, sim_exec_kind_name(j->kind), j->lied,
	    st);
}

/* ------------------------------------------------------------------ */
/* The run                                                              */
/* ------------------------------------------------------------------ */

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void
summarise(struct world *w, double t0)
{
	const struct sim_config *c = w->cfg;
	struct sim_result *r = w->res;
	r->end_us = w->now;
	r->heap_peak = w->q.peak;
	qsort(w->fin, w->n_fin, sizeof(*w->fin), cmp_u64);
	double sum = 0;
	for (size_t i = 0; i < w->n_fin; i++) {
		sum += (double)w->fin[i];
	}
	r->final_mean_us = w->n_fin ? sum / (double)w->n_fin : 0.0;
	for (size_t k = 0; k < SIM_QUANTILES && w->n_fin > 0; k++) {
		r->final_q[k] = w->fin[(k * (w->n_fin - 1)) / (SIM_QUANTILES - 1)];
	}
	r->invalid_mean_us = w->inv_n ? w->inv_sum / (double)w->inv_n : 0.0;
	uint64_t reqs = 0;
	for (int i = 0; i < SIM_REQ_COUNT; i++) {
		reqs += r->req[i];
	}
	for (size_t i = 0; i < r->n_load; i++) {
		r->load_peak = r->load[i] > r->load_peak ? r->load[i] : r->load_peak;
	}
	r->load_mean = r->n_load ? (double)reqs / ((double)w->now / 1e6 > 1.0 ?
	    (double)w->now / 1e6 : 1.0) : 0.0;
	for (uint32_t e = 0; e < c->executors; e++) {
		const struct sim_executor *x = &w->ex[e];
		r->st_fees[x->kind] += x->fees;
		r->st_bonds[x->kind] += x->bonds;
		r->st_slashed[x->kind] += x->slashed;
		r->st_work[x->kind] += x->work;
		r->st_jobs[x->kind] += x->jobs;
	}
	double cs = 0, det = 0;
	for (uint32_t m = 0; m < c->models; m++) {
		cs += w->n_watch[m];
		det += sim_closed_detection(c->p, (double)w->n_watch[m]);
	}
	r->c_per_claim = cs / c->models;
	r->closed_detection = det / c->models;
	for (uint32_t i = 0; i < w->n_jobs; i++) {
		if (w->jobs[i].live && w->jobs[i].state == PROTO_JOB_OPEN) {
			r->orphaned++;
		}
	}
	r->minted = w->minted;
	r->burned = w->burned;
	r->ledger_ok = r->ledger_ok && sim_world_ledger_ok(w, &r->total);
	r->wall_s = wall_now() - t0;
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) == 0) {
		r->maxrss_kb = ru.ru_maxrss;
	}
}

static void
world_free(struct world *w)
{
	for (uint32_t i = 0; i < w->n_ds; i++) {
		if (w->ds[i] != NULL) {
			dispute_free(w->ds[i]);
			free(w->ds[i]);
		}
	}
	free(w->ds);
	free(w->jobs);
	sim_evq_fini(&w->q);
	free(w->bal);
	free(w->stk);
	free(w->lck);
	free(w->lat);
	if (w->ch != NULL) {
		for (uint32_t i = 0; i < w->cfg->challengers; i++) {
			free(w->ch[i].q);
		}
	}
	free(w->ch);
	free(w->ex);
	if (w->pick != NULL) {
		if (w->cfg->models > 0) {
			free(w->pick[0].pos);
		}
		for (uint32_t m = 0; m < w->cfg->models; m++) {
			free(w->pick[m].h);
		}
	}
	free(w->pick);
	if (w->watch != NULL) {
		for (uint32_t m = 0; m < w->cfg->models; m++) {
			free(w->watch[m]);
		}
	}
	free(w->watch);
	free(w->n_watch);
	free(w->load);
	free(w->fin);
	free(w->answer);
	engine_model_free(w->model);
	proto_trace_layout_free(&w->layout);
	if (w->trace != NULL) {
		fclose((FILE *)w->trace);
	}
}

static void
dispatch(struct world *w, const struct event *e)
{
	switch ((enum ev_kind)e->kind) {
	case EV_ARRIVE:
		on_arrive(w);
		break;
	case EV_SUBMIT:
		on_submit(w, e->a);
		break;
	case EV_ASSIGN:
		on_assign(w, e->a);
		break;
	case EV_EXEC_DONE:
		on_exec_done(w, e->a, e->b);
		break;
	case EV_CLAIM:
		on_claim(w, e->a, e->b);
		break;
	case EV_WINDOW:
		on_window(w, e->a);
		break;
	case EV_VERIFY_SEEN:
		on_verify_seen(w, e->a, e->b);
		break;
	case EV_STATUS:
		on_status(w, e->a, e->b);
		break;
	case EV_VERIFY_DONE:
		on_verify_done(w, e->a, e->b, e->c);
		break;
	case EV_CHALLENGE:
		on_challenge(w, e->a, e->b, e->c != 0);
		break;
	case EV_QUERY:
		on_query(w, e->a, e->b, e->c);
		break;
	case EV_ANSWER:
		on_answer(w, e->a, e->b, e->c);
		break;
	case EV_REVEAL:
		on_reveal(w, e->a, e->c);
		break;
	case EV_TICK:
		on_tick(w, e->a, e->c);
		break;
	case EV_DEADLINE:
		on_deadline(w, e->a);
		break;
	}
	if (job_event(e->kind)) {
		job_unref(w, e->a);
	} else if (dispute_event(e->kind)) {
		dispute_unref(w, e->a);
	}
}

int
sim_run(const struct sim_config *c, struct sim_result *out,
    sim_progress_fn progress, void *ctx, struct rf_errinfo *ei)
{
	return sim_run_jobs(c, out, progress, ctx, NULL, ei);
}

int
sim_run_jobs(const struct sim_config *c, struct sim_result *out,
    sim_progress_fn progress, void *ctx, void *jobs_out,
    struct rf_errinfo *ei)
{
	int err = sim_config_check(c, ei);
	if (err != RF_OK) {
		return err;
	}
	double t0 = wall_now();
	struct sim_result *r = calloc(1, sizeof(*r));
	struct world *w = calloc(1, sizeof(*w));
	if (r == NULL || w == NULL) {
		free(r);
		free(w);
		return rf_errf(ei, RF_ERR_NOMEM, "out of memory");
	}
	w->cfg = c;
	w->res = r;
	w->ei = ei;
	w->jobs_out = jobs_out;
	w->n_leaves = c->inputs + c->ops;
	w->free_jobs = NONE;
	r->ledger_ok = true;
	/* chain/'s parameters; every time in microseconds. */
	chain_params_default(&w->cp);
	w->cp.window_ms = c->window_us;
	w->cp.min_stake = c->min_stake;
	w->cp.min_bond = c->bond;
	w->cp.reward_pct = c->reward_pct;
	w->cp.claim_collateral = c->claim_collateral;
	w->cp.job_deadline_ms = c->job_deadline_us > 0 ? c->job_deadline_us :
	    UINT64_MAX / 4; /* never, within any run */
	w->cp.deadline_penalty = c->deadline_penalty;
	w->cp.min_fee = 0;
	w->cp.max_open_jobs = 0;
	sim_evq_init(&w->q);
	w->answer = malloc(sizeof(*w->answer));
	err = w->answer != NULL ? sim_world_populate(w) : RF_ERR_NOMEM;
	if (err != RF_OK) {
		rf_errf(ei, err, "out of memory setting up %u nodes",
		    c->executors + c->challengers + c->clients);
	}
	if (err == RF_OK && c->trace_file[0] != '\0') {
		w->trace = fopen(c->trace_file, "r");
		if (w->trace == NULL) {
			err = rf_errf(ei, RF_ERR_IO, "cannot open %s", c->trace_file);
		}
	}
	if (err == RF_OK) {
		next_arrival(w);
		err = w->err;
	}
	double last = t0;
	struct event e;
	while (err == RF_OK && sim_evq_pop(&w->q, &e)) {
		w->now = e.t;
		r->events++;
		dispatch(w, &e);
		err = w->err;
		if ((r->events & 0xfffff) == 0 && !sim_world_ledger_ok(w, &r->total)) {
			r->ledger_ok = false;
		}
		if (progress != NULL && (r->events & 0xffff) == 0) {
			double now = wall_now();
			if (now - last >= 0.25) {
				struct sim_progress p = { w->done, c->jobs, r->events,
				    r->disputes, w->now, now - t0 };
				progress(ctx, &p);
				last = now;
			}
		}
	}
	if (err == RF_OK) {
		summarise(w, t0);
		if (progress != NULL) {
			struct sim_progress p = { w->done, c->jobs, r->events,
			    r->disputes, w->now, r->wall_s };
			progress(ctx, &p);
		}
	}
	world_free(w);
	free(w);
	if (err != RF_OK) {
		sim_result_free(r);
		free(r);
		return err;
	}
	*out = *r;
	free(r);
	return RF_OK;
}

void
sim_result_free(struct sim_result *r)
{
	if (r == NULL) {
		return;
	}
	free(r->recs);
	free(r->load);
	r->recs = NULL;
	r->load = NULL;
	r->n_recs = r->n_load = 0;
}
