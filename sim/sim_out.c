/*
 * sim/sim_out.c - what an experiment leaves in its folder: runs.csv (one
 * row per run, the same bytes for the same seed), disputes.csv, load.csv,
 * perf.csv (wall time and memory: not reproducible, so kept apart), the
 * plot's data and gnuplot script, the plot itself when gnuplot is
 * installed, and summary.txt with a table ready for docs/.
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sim/des_int.h"

/* 99.9% two-sided normal quantile, for the detection intervals. */
#define Z999 3.2905

/* ------------------------------------------------------------------ */
/* Files and text                                                       */
/* ------------------------------------------------------------------ */

int
sim_mkdir_p(const char *dir, struct rf_errinfo *ei)
{
	char path[1024];
	size_t n = strlen(dir);
	if (n == 0 || n >= sizeof(path)) {
		return rf_errf(ei, RF_ERR_INVAL, "bad output folder '%s'", dir);
	}
	memcpy(path, dir, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (path[i] != '/' && path[i] != '\0') {
			continue;
		}
		char c = path[i];
		path[i] = '\0';
		if (mkdir(path, 0755) != 0 && errno != EEXIST) {
			return rf_errf(ei, RF_ERR_IO, "cannot create %s: %s", path,
			    strerror(errno));
		}
		path[i] = c;
	}
	return RF_OK;
}

int
sim_out_open(const char *dir, const char *name, FILE **f, struct rf_errinfo *ei)
{
	char path[1024];
	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    (int)sizeof(path)) {
		return rf_errf(ei, RF_ERR_RANGE, "path too long");
	}
	*f = fopen(path, "w");
	if (*f == NULL) {
		return rf_errf(ei, RF_ERR_IO, "cannot write %s: %s", path,
		    strerror(errno));
	}
	return RF_OK;
}

static int
out_close(FILE *f, const char *name, struct rf_errinfo *ei)
{
	bool bad = ferror(f) != 0;
	if (fclose(f) != 0 || bad) {
		return rf_errf(ei, RF_ERR_IO, "writing %s failed", name);
	}
	return RF_OK;
}

/* A growing string for the summary. */
struct sbuf {
	char *p;
	size_t n, cap;
	bool oom;
};

static void sb_printf(struct sbuf *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
sb_printf(struct sbuf *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int need = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (need < 0 || s->oom) {
		return;
	}
	if (s->n + (size_t)need + 1 > s->cap) {
		size_t cap = s->cap ? s->cap : 4096;
		while (cap < s->n + (size_t)need + 1) {
			cap *= 2;
		}
		char *p = realloc(s->p, cap);
		if (p == NULL) {
			s->oom = true;
			return;
		}
		s->p = p;
		s->cap = cap;
	}
	va_start(ap, fmt);
	vsnprintf(s->p + s->n, s->cap - s->n, fmt, ap);
	va_end(ap);
	s->n += (size_t)need;
}

/* ------------------------------------------------------------------ */
/* Derived numbers                                                      */
/* ------------------------------------------------------------------ */

struct derived {
	uint64_t frauds, caught, decided;
	double det, lo, hi, closed;
	double value_det;       /* frauds caught, weighted by fee */
	double share;           /* re-executed operators per claimed one */
	double profit[SIM_EX_COUNT]; /* per decided job */
	double gap;             /* cheater minus honest, per job */
	double rational_share;  /* rational executors' jobs cheated */
	double smin, smin_meas; /* S* with the closed and the measured P */
	double rounds_mean, disp_mean_s, disp_max_s;
	double fin_p50_s, fin_p99_s, fin_mean_s, inv_mean_s;
	uint64_t reqs;
	double sim_s, jobs_s, req_s, one_s, proofs_s;
	uint32_t rounds_closed; /* ceil(log_k(ops)) */
};

static double
ratio(double a, double b)
{
	return b > 0.0 ? a / b : 0.0;
}

static void
derive(const struct sim_config *c, const struct sim_result *r,
    struct derived *d)
{
	memset(d, 0, sizeof(*d));
	for (int k = 1; k < SIM_EX_COUNT; k++) {
		d->frauds += r->frauds[k];
		d->caught += r->caught[k];
	}
	d->det = ratio((double)d->caught, (double)d->frauds);
	d->value_det = ratio((double)r->caught_value, (double)r->fraud_value);
	sim_wilson(d->caught, d->frauds, Z999, &d->lo, &d->hi);
	d->closed = r->closed_detection;
	/* Against the work the claims stand for, not the work done: a lazy
	 * cheater does none, which would inflate the share. */
	d->share = ratio((double)r->verify_ops, (double)r->claims *
	    (double)c->ops);
	double g = (double)c->cheat_gain, w = (double)c->work_cost;
	for (int k = 0; k < SIM_EX_COUNT; k++) {
		double undetected = (double)(r->frauds[k] - (r->caught[k] <
		    r->frauds[k] ? r->caught[k] : r->frauds[k]));
		double p = (double)r->st_fees[k] + (double)r->st_bonds[k] -
		    (double)r->st_slashed[k] - (double)r->st_work[k] +
		    (g - w) * undetected;
		d->profit[k] = ratio(p, (double)r->st_jobs[k]);
	}
	int cheat = r->st_jobs[SIM_EX_RANDOM] > 0 ? SIM_EX_RANDOM :
	    SIM_EX_RATIONAL;
	d->gap = r->st_jobs[cheat] > 0 ? d->profit[cheat] -
	    d->profit[SIM_EX_HONEST] : 0.0;
	d->rational_share = ratio((double)r->rational_cheats,
	    (double)r->rational_jobs);
	double fee = ((double)c->fee + (double)c->fee_max) / 2.0;
	d->smin = sim_min_stake(d->closed, g, fee, w);
	d->smin_meas = sim_min_stake(d->det, g, fee, w);
	d->decided = r->n_recs - r->settled;
	d->rounds_mean = ratio((double)r->rounds_sum, (double)d->decided);
	d->disp_mean_s = ratio((double)r->duration_sum_us, (double)d->decided) /
	    1e6;
	d->disp_max_s = (double)r->duration_max_us / 1e6;
	d->fin_p50_s = (double)r->final_q[50] / 1e6;
	d->fin_p99_s = (double)r->final_q[99] / 1e6;
	d->fin_mean_s = r->final_mean_us / 1e6;
	d->inv_mean_s = r->invalid_mean_us / 1e6;
	for (int i = 0; i < SIM_REQ_COUNT; i++) {
		d->reqs += r->req[i];
	}
	d->sim_s = (double)r->end_us / 1e6;
	d->jobs_s = ratio((double)r->jobs, d->sim_s);
	d->req_s = ratio((double)d->reqs, d->sim_s);
	d->one_s = ratio((double)r->one_steps, d->sim_s);
	d->proofs_s = ratio((double)r->proofs_checked, d->sim_s);
	d->rounds_closed = bisect_max_rounds(c->ops, c->arity);
}

/* ------------------------------------------------------------------ */
/* CSV                                                                  */
/* ------------------------------------------------------------------ */

static void
runs_header(FILE *f, const struct sim_experiment *e)
{
	fprintf(f, "run");
	for (size_t a = 0; a < e->n_axes; a++) {
		fprintf(f, ",%s", e->axes[a].key);
	}
	fprintf(f, ",seed,jobs,executors,challengers,clients,models,ops,arity,"
	    "policy,p,latency_us,window_us,clock_us,stake,fee,c_per_claim,"
	    "claims,final,invalid,orphaned,refused,frauds,caught,detection,"
	    "detection_lo999,detection_hi999,closed_detection,value_detection,"
	    "honest_invalid,"
	    "equivocations,verifications,verify_late,verify_ops,exec_ops,"
	    "verify_share,"
	    "disputes,executor_wins,settled,timeouts,bad_proofs,one_steps,"
	    "lie_found,lie_disputes,rounds_mean,rounds_max,rounds_closed,"
	    "dispute_mean_s,dispute_max_s,final_p50_s,final_p99_s,"
	    "final_mean_s,invalid_mean_s,requests,requests_per_s,"
	    "requests_peak,one_steps_per_s,proofs_per_s,minted,ledger_total,"
	    "burned,slashed,rewards,ledger_ok,profit_honest,profit_random,"
	    "profit_rational,cheat_gap,rational_jobs,rational_cheats,"
	    "min_stake_closed,min_stake_measured,events,sim_s\n");
}

static void
runs_row(FILE *f, const struct sim_experiment *e, size_t run,
    const size_t *idx, const struct sim_config *c, const struct sim_result *r)
{
	struct derived d;
	derive(c, r, &d);
	fprintf(f, "%zu", run + 1);
	for (size_t a = 0; a < e->n_axes; a++) {
		fprintf(f, ",%s", e->axes[a].values[idx[a]]);
	}
	fprintf(f, ",%llu,%llu,%u,%u,%u,%u,%u,%u,%s,%.6g,%llu,%llu,%llu,%llu,"
	    "%llu,%.6g", (unsigned long long)c->seed,
	    (unsigned long long)r->jobs, c->executors, c->challengers,
	    c->clients, c->models, c->ops, c->arity, sim_policy_name(c->policy),
	    c->p, (unsigned long long)c->latency_us,
	    (unsigned long long)c->window_us, (unsigned long long)c->clock_us,
	    (unsigned long long)c->stake, (unsigned long long)c->fee,
	    r->c_per_claim);
	fprintf(f, ",%llu,%llu,%llu,%llu,%llu,%llu,%llu,%.6f,%.6f,%.6f,%.6f,"
	    "%.6f,%llu,%llu", (unsigned long long)r->claims,
	    (unsigned long long)r->final, (unsigned long long)r->invalid,
	    (unsigned long long)r->orphaned, (unsigned long long)r->refused,
	    (unsigned long long)d.frauds, (unsigned long long)d.caught, d.det,
	    d.lo, d.hi, d.closed, d.value_det,
	    (unsigned long long)r->honest_invalid,
	    (unsigned long long)r->equivocations);
	fprintf(f, ",%llu,%llu,%llu,%llu,%.6f,%llu,%llu,%llu,%llu,%llu,%llu,"
	    "%llu,%llu", (unsigned long long)r->verifications,
	    (unsigned long long)r->verify_late,
	    (unsigned long long)r->verify_ops, (unsigned long long)r->exec_ops,
	    d.share, (unsigned long long)r->disputes,
	    (unsigned long long)r->disputes_won_exec,
	    (unsigned long long)r->settled,
	    (unsigned long long)r->by_reason[PROTO_VERDICT_TIMEOUT],
	    (unsigned long long)r->by_reason[PROTO_VERDICT_BAD_PROOF],
	    (unsigned long long)r->one_steps, (unsigned long long)r->lie_found,
	    (unsigned long long)r->lie_disputes);
	fprintf(f, ",%.4f,%llu,%u,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%llu,%.4f,"
	    "%llu,%.4f,%.4f", d.rounds_mean, (unsigned long long)r->rounds_max,
	    d.rounds_closed, d.disp_mean_s, d.disp_max_s, d.fin_p50_s,
	    d.fin_p99_s, d.fin_mean_s, d.inv_mean_s,
	    (unsigned long long)d.reqs, d.req_s,
	    (unsigned long long)r->load_peak, d.one_s, d.proofs_s);
	fprintf(f, ",%llu,%llu,%llu,%llu,%llu,%d,%.6f,%.6f,%.6f,%.6f,%llu,%llu,"
	    "%.2f,%.2f,%llu,%.6f\n", (unsigned long long)r->minted,
	    (unsigned long long)r->total, (unsigned long long)r->burned,
	    (unsigned long long)r->slashed, (unsigned long long)r->rewards,
	    r->ledger_ok, d.profit[SIM_EX_HONEST], d.profit[SIM_EX_RANDOM],
	    d.profit[SIM_EX_RATIONAL], d.gap,
	    (unsigned long long)r->rational_jobs,
	    (unsigned long long)r->rational_cheats, d.smin, d.smin_meas,
	    (unsigned long long)r->events, d.sim_s);
}

static const char *
reason_name(uint8_t r)
{
	switch (r) {
	case PROTO_VERDICT_RECOMPUTED:
		return "recomputed";
	case PROTO_VERDICT_BAD_PROOF:
		return "bad-proof";
	case PROTO_VERDICT_TIMEOUT:
		return "timeout";
	case PROTO_VERDICT_EQUIVOCATION:
		return "equivocation";
	case PROTO_VERDICT_SETTLED:
		return "settled";
	}
	return "?";
}

static void
disputes_rows(FILE *f, size_t run, const struct sim_result *r)
{
	for (size_t i = 0; i < r->n_recs; i++) {
		const struct sim_dispute_rec *d = &r->recs[i];
		fprintf(f, "%zu,%llu,%s,%s,%lld,%lld,%u,%llu,%s,%d,%s,%d,%llu,"
		    "%llu\n", run + 1, (unsigned long long)d->job,
		    sim_exec_kind_name((enum sim_exec_kind)d->exec_kind),
		    sim_chal_kind_name((enum sim_chal_kind)d->chal_kind),
		    (long long)d->lie_op, (long long)d->op, d->rounds,
		    (unsigned long long)d->duration_us,
		    d->executor_won ? "executor" : "challenger",
		    d->challenger_right, reason_name(d->reason), d->real,
		    (unsigned long long)d->slashed, (unsigned long long)d->reward);
	}
}

/* ------------------------------------------------------------------ */
/* Plots                                                                */
/* ------------------------------------------------------------------ */

struct layout {
	size_t nx, ns;  /* x values (axis 0) and series (the other axes) */
};

static struct layout
layout_of(const struct sim_experiment *e, size_t runs)
{
	struct layout l;
	l.nx = e->n_axes > 0 ? e->axes[0].n : 1;
	l.ns = runs / l.nx;
	return l;
}

/* "key=value,key=value" of the series axes of run r (no spaces, so
 * gnuplot's word() can pick titles). */
static void
series_title(const struct sim_experiment *e, const size_t *idx, char *out,
    size_t len)
{
	size_t n = 0;
	out[0] = '\0';
	for (size_t a = 1; a < e->n_axes && n < len; a++) {
		int k = snprintf(out + n, len - n, "%s%s=%s", a > 1 ? "," : "",
		    e->axes[a].key, e->axes[a].values[idx[a]]);
		if (k < 0) {
			break;
		}
		n += (size_t)k;
	}
	if (out[0] == '\0') {
		snprintf(out, len, "%s", e->name);
	}
}

static const char *
x_label(const struct sim_experiment *e)
{
	return e->n_axes > 0 ? e->axes[0].key : "run";
}

static const char *
x_value(const struct sim_experiment *e, const size_t *idx)
{
	return e->n_axes > 0 ? e->axes[0].values[idx[0]] : "1";
}

/* Every plot: its file, and a title (axes are labelled by each
 * plot). */
static void
gp_header(FILE *g, const struct sim_experiment *e, const char *out,
    const char *title)
{
	if (strcmp(e->format, "svg") == 0) {
		fprintf(g, "set terminal svg size 760,460 dynamic font 'Sans,11'\n");
	} else {
		fprintf(g, "set terminal pngcairo size 760,460 font 'Sans,10'\n");
	}
	/* Plain text: key names have underscores, not subscripts. */
	fprintf(g, "set termoption noenhanced\nset output '%s.%s'\nset grid\n"
	    "set key left top\nset datafile separator whitespace\n", out,
	    e->format);
	fprintf(g, "set title '%s'\n", title);
}

static void
gp_titles(FILE *g, const struct sim_experiment *e, size_t runs,
    const size_t (*idx)[SIM_MAX_AXES], struct layout l)
{
	char t[256];
	fprintf(g, "titles = \"");
	for (size_t s = 0; s < l.ns; s++) {
		series_title(e, idx[s * l.nx], t, sizeof(t));
		fprintf(g, "%s%s", s ? " " : "", t);
	}
	fprintf(g, "\"\nN = %zu\n", l.ns);
	(void)runs;
}

/* Runs gnuplot on script (in dir); false when it is not installed or
 * failed (its messages go to dir/gnuplot.log). */
static bool
gnuplot(const char *dir, const char *script)
{
	if (strchr(dir, '\'') != NULL) {
		return false;
	}
	char cd[1100], log[1100];
	snprintf(cd, sizeof(cd), "cd '%s'", dir);
	snprintf(log, sizeof(log), "%s/gnuplot.log", dir);
	posix_spawn_file_actions_t fa;
	if (posix_spawn_file_actions_init(&fa) != 0) {
		return false;
	}
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT |
	    O_APPEND, 0644);
	posix_spawn_file_actions_addopen(&fa, 2, log, O_WRONLY | O_CREAT |
	    O_APPEND, 0644);
	char *argv[] = { "gnuplot", "-e", cd, (char *)script, NULL };
	extern char **environ;
	pid_t pid;
	int rc = posix_spawnp(&pid, "gnuplot", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0) {
		return false;
	}
	int st;
	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR) {
			return false;
		}
	}
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* Writes name.dat: one block per series (gnuplot's index), one row per x;
 * row() prints the columns after x. */
static int
write_dat(const struct sim_experiment *e, const char *dir, const char *name,
    const struct sim_config *cfgs, const struct sim_result *res,
    const size_t (*idx)[SIM_MAX_AXES], size_t runs, const char *cols,
    void (*row)(FILE *f, const struct sim_config *c,
    const struct sim_result *r), struct rf_errinfo *ei)
{
	struct layout l = layout_of(e, runs);
	char file[128];
	snprintf(file, sizeof(file), "%s.dat", name);
	FILE *f;
	int err = sim_out_open(dir, file, &f, ei);
	if (err != RF_OK) {
		return err;
	}
	for (size_t s = 0; s < l.ns; s++) {
		char t[256];
		series_title(e, idx[s * l.nx], t, sizeof(t));
		fprintf(f, "%s# %s\n# %s %s\n", s ? "\n\n" : "", t, x_label(e),
		    cols);
		for (size_t x = 0; x < l.nx; x++) {
			size_t r = s * l.nx + x;
			fprintf(f, "%s", x_value(e, idx[r]));
			row(f, &cfgs[r], &res[r]);
			fprintf(f, "\n");
		}
	}
	return out_close(f, file, ei);
}

static void
row_detection(FILE *f, const struct sim_config *c, const struct sim_result *r)
{
	struct derived d;
	derive(c, r, &d);
	fprintf(f, " %.6f %.6f %.6f %.6f %llu %llu", d.det, d.lo, d.hi,
	    d.closed, (unsigned long long)d.frauds,
	    (unsigned long long)d.caught);
}

static void
row_cost(FILE *f, const struct sim_config *c, const struct sim_result *r)
{
	struct derived d;
	derive(c, r, &d);
	fprintf(f, " %.6f %.6f %.6f %.6f", d.det, d.share, d.closed,
	    r->c_per_claim * c->p);
}

static void
row_stake(FILE *f, const struct sim_config *c, const struct sim_result *r)
{
	struct derived d;
	derive(c, r, &d);
	fprintf(f, " %.6f %.6f %.6f %.6f %.2f %.6f", d.profit[SIM_EX_HONEST],
	    d.profit[SIM_EX_RANDOM], d.gap, d.rational_share, d.smin, d.det);
}

static void
row_dispute(FILE *f, const struct sim_config *c, const struct sim_result *r)
{
	struct derived d;
	derive(c, r, &d);
	fprintf(f, " %.4f %llu %u %.6f %.6f %.6f", d.rounds_mean,
	    (unsigned long long)r->rounds_max, d.rounds_closed, d.disp_mean_s,
	    d.inv_mean_s, d.fin_p50_s);
}

static void
row_load(FILE *f, const struct sim_config *c, const struct sim_result *r)
{
	struct derived d;
	derive(c, r, &d);
	fprintf(f, " %.4f %llu %.4f %.4f %.4f %u", d.req_s,
	    (unsigned long long)r->load_peak, d.one_s, d.proofs_s, d.jobs_s,
	    c->executors + c->challengers + c->clients);
}

/* ------------------------------------------------------------------ */
/* Per-experiment tables, data and scripts                              */
/* ------------------------------------------------------------------ */

struct ctx {
	const struct sim_experiment *e;
	const char *dir;
	const struct sim_config *cfgs;
	const struct sim_result *res;
	const size_t (*idx)[SIM_MAX_AXES];
	size_t runs;
	struct sbuf *sb;
	struct layout l;
};

static void
axis_cells(const struct ctx *x, size_t r)
{
	for (size_t a = 0; a < x->e->n_axes; a++) {
		sb_printf(x->sb, "| %s ", x->e->axes[a].values[x->idx[r][a]]);
	}
}

static void
axis_head(const struct ctx *x, const char *rest)
{
	for (size_t a = 0; a < x->e->n_axes; a++) {
		sb_printf(x->sb, "| %s ", x->e->axes[a].key);
	}
	sb_printf(x->sb, "%s\n", rest);
	size_t cols = x->e->n_axes;
	for (const char *p = rest; *p; p++) {
		cols += *p == '|';
	}
	for (size_t i = 1; i < cols; i++) {
		sb_printf(x->sb, "|---");
	}
	sb_printf(x->sb, "|\n");
}

static int
plot_detection(struct ctx *x, FILE *g, struct rf_errinfo *ei)
{
	int err = write_dat(x->e, x->dir, "detection", x->cfgs, x->res, x->idx,
	    x->runs, "measured lo999 hi999 closed frauds caught", row_detection,
	    ei);
	if (err != RF_OK) {
		return err;
	}
	gp_header(g, x->e, "detection",
	    "Share of frauds caught");
	gp_titles(g, x->e, x->runs, x->idx, x->l);
	fprintf(g, "set xlabel '%s'\nset ylabel 'share of frauds caught'\n"
	    "set yrange [0:1.05]\nset key right bottom\n"
	    "plot for [i=0:N-1] 'detection.dat' index i using 1:2:3:4 with "
	    "yerrorbars pt 7 ps 0.6 lc i+1 title word(titles,i+1).' measured',"
	    " \\\n     for [i=0:N-1] 'detection.dat' index i using 1:5 with "
	    "lines lc i+1 dt 2 title word(titles,i+1).' 1-(1-p)^c'\n",
	    x_label(x->e));
	axis_head(x, "| frauds | caught | measured | 99.9% interval | "
	    "1-(1-p)^c | inside |");
	size_t inside = 0;
	double worst = 0;
	for (size_t r = 0; r < x->runs; r++) {
		struct derived d;
		derive(&x->cfgs[r], &x->res[r], &d);
		bool in = d.closed >= d.lo && d.closed <= d.hi;
		inside += in;
		double dev = d.det > d.closed ? d.det - d.closed : d.closed - d.det;
		worst = dev > worst ? dev : worst;
		axis_cells(x, r);
		sb_printf(x->sb, "| %llu | %llu | %.4f | [%.4f, %.4f] | %.4f | %s |\n",
		    (unsigned long long)d.frauds, (unsigned long long)d.caught,
		    d.det, d.lo, d.hi, d.closed, in ? "yes" : "NO");
	}
	sb_printf(x->sb, "\nclosed form inside the 99.9%% Wilson interval in "
	    "%zu of %zu runs; largest |measured - closed| %.4f\n", inside,
	    x->runs, worst);
	return RF_OK;
}

static int
plot_cost(struct ctx *x, FILE *g, struct rf_errinfo *ei)
{
	int err = write_dat(x->e, x->dir, "cost", x->cfgs, x->res, x->idx,
	    x->runs, "detection verify_share closed_detection c_times_p",
	    row_cost, ei);
	if (err != RF_OK) {
		return err;
	}
	gp_header(g, x->e, "cost",
	    "Verification cost against detection");
	gp_titles(g, x->e, x->runs, x->idx, x->l);
	fprintf(g, "set xlabel 'detection probability (measured)'\n"
	    "set ylabel 're-executed work / claimed work'\n"
	    "set xrange [0:1]\n"
	    "plot for [i=0:N-1] 'cost.dat' index i using 2:3 with linespoints "
	    "pt 7 ps 0.7 lc i+1 title word(titles,i+1), \\\n"
	    "     for [i=0:N-1] 'cost.dat' index i using 4:5 with lines lc i+1 "
	    "dt 2 notitle\n");
	axis_head(x, "| detection | by value | 1-(1-p)^c | re-executed share "
	    "| c*p |");
	for (size_t r = 0; r < x->runs; r++) {
		struct derived d;
		derive(&x->cfgs[r], &x->res[r], &d);
		axis_cells(x, r);
		sb_printf(x->sb, "| %.4f | %.4f | %.4f | %.4f | %.4f |\n", d.det,
		    d.value_det, d.closed, d.share,
		    x->res[r].c_per_claim * x->cfgs[r].p);
	}
	return RF_OK;
}

static int
plot_stake(struct ctx *x, FILE *g, struct rf_errinfo *ei)
{
	int err = write_dat(x->e, x->dir, "stake", x->cfgs, x->res, x->idx,
	    x->runs, "profit_honest profit_cheater gap rational_cheat_share "
	    "min_stake_closed detection", row_stake, ei);
	if (err != RF_OK) {
		return err;
	}
	gp_header(g, x->e, "stake",
	    "What cheating earns over honest work");
	gp_titles(g, x->e, x->runs, x->idx, x->l);
	fprintf(g, "set xlabel '%s'\nset ylabel 'cheater profit - honest "
	    "profit, per job'\nset y2label 'share of jobs the rational "
	    "cheater cheats'\nset y2range [0:1.05]\nset ytics nomirror\n"
	    "set y2tics\nset key right top\n", x_label(x->e));
	/* The closed-form S* of each series, as a vertical line. */
	for (size_t s = 0; s < x->l.ns; s++) {
		struct derived d;
		size_t r = s * x->l.nx;
		derive(&x->cfgs[r], &x->res[r], &d);
		fprintf(g, "set arrow from %.2f, graph 0 to %.2f, graph 1 nohead "
		    "dt 3 lc %zu\n", d.smin, d.smin, s + 1);
	}
	fprintf(g, "plot 0 with lines lc 'black' notitle, \\\n"
	    "     for [i=0:N-1] 'stake.dat' index i using 1:4 with linespoints "
	    "pt 7 ps 0.7 lc i+1 title word(titles,i+1).' gap', \\\n"
	    "     for [i=0:N-1] 'stake.dat' index i using 1:5 axes x1y2 with "
	    "linespoints pt 4 ps 0.7 lc i+1 dt 2 title word(titles,i+1)."
	    "' rational cheats'\n");
	axis_head(x, "| detection | honest profit/job | cheater profit/job | "
	    "gap | rational cheats | S* closed | S* measured P |");
	for (size_t r = 0; r < x->runs; r++) {
		struct derived d;
		derive(&x->cfgs[r], &x->res[r], &d);
		axis_cells(x, r);
		sb_printf(x->sb, "| %.4f | %.3f | %.3f | %.3f | %.3f | %.0f | %.0f "
		    "|\n", d.det, d.profit[SIM_EX_HONEST], d.profit[SIM_EX_RANDOM],
		    d.gap, d.rational_share, d.smin, d.smin_meas);
	}
	/* Per series: the first swept stake where cheating stops paying. */
	sb_printf(x->sb, "\n");
	for (size_t s = 0; s < x->l.ns; s++) {
		char t[256];
		series_title(x->e, x->idx[s * x->l.nx], t, sizeof(t));
		const char *first = NULL, *rational = NULL;
		for (size_t i = 0; i < x->l.nx; i++) {
			size_t r = s * x->l.nx + i;
			struct derived d;
			derive(&x->cfgs[r], &x->res[r], &d);
			if (first == NULL && d.gap <= 0.0) {
				first = x_value(x->e, x->idx[r]);
			}
			if (rational == NULL && x->res[r].rational_jobs > 0 &&
			    x->res[r].rational_cheats == 0) {
				rational = x_value(x->e, x->idx[r]);
			}
		}
		struct derived d0;
		derive(&x->cfgs[s * x->l.nx], &x->res[s * x->l.nx], &d0);
		sb_printf(x->sb, "%s: closed-form S* = %.0f; cheating stops paying "
		    "from %s = %s; the rational cheater stops from %s\n", t,
		    d0.smin, x_label(x->e), first ? first : "(never in range)",
		    rational ? rational : "(never in range)");
	}
	return RF_OK;
}

static int
plot_dispute(struct ctx *x, FILE *g, struct rf_errinfo *ei)
{
	int err = write_dat(x->e, x->dir, "dispute", x->cfgs, x->res, x->idx,
	    x->runs, "rounds_mean rounds_max rounds_closed dispute_mean_s "
	    "invalid_mean_s final_p50_s", row_dispute, ei);
	if (err != RF_OK) {
		return err;
	}
	gp_header(g, x->e, "dispute_rounds",
	    "Bisection rounds per dispute");
	gp_titles(g, x->e, x->runs, x->idx, x->l);
	fprintf(g, "set logscale x 2\nset xlabel '%s'\nset ylabel 'query "
	    "rounds'\n"
	    "plot for [i=0:N-1] 'dispute.dat' index i using 1:4 with lines "
	    "lc i+1 dt 2 title (i == 0 ? 'ceil(log_k ops)' : ''), \\\n"
	    "     for [i=0:N-1] 'dispute.dat' index i using 1:2 with points "
	    "pt 7 ps 0.8 lc i+1 title word(titles,i+1)\n", x_label(x->e));
	gp_header(g, x->e, "dispute_time",
	    "Time to decide a dispute");
	fprintf(g, "set logscale x 2\nset xlabel '%s'\nset ylabel 'seconds'\n"
	    "plot for [i=0:N-1] 'dispute.dat' index i using 1:5 with "
	    "linespoints pt 7 ps 0.7 lc i+1 title word(titles,i+1).' dispute',"
	    " \\\n     for [i=0:N-1] 'dispute.dat' index i using 1:6 with "
	    "lines lc i+1 dt 2 title word(titles,i+1).' job to invalid'\n",
	    x_label(x->e));
	axis_head(x, "| disputes | rounds mean | rounds max | ceil(log_k ops) "
	    "| lied-at op found | dispute s | job to invalid s | honest "
	    "finality p50 s |");
	for (size_t r = 0; r < x->runs; r++) {
		struct derived d;
		const struct sim_result *res = &x->res[r];
		derive(&x->cfgs[r], res, &d);
		axis_cells(x, r);
		sb_printf(x->sb, "| %llu | %.2f | %llu | %u | %llu/%llu | %.3f | "
		    "%.3f | %.3f |\n", (unsigned long long)d.decided, d.rounds_mean,
		    (unsigned long long)res->rounds_max, d.rounds_closed,
		    (unsigned long long)res->lie_found,
		    (unsigned long long)res->lie_disputes, d.disp_mean_s,
		    d.inv_mean_s, d.fin_p50_s);
	}
	return RF_OK;
}

static int
plot_load(struct ctx *x, FILE *g, struct rf_errinfo *ei)
{
	int err = write_dat(x->e, x->dir, "load", x->cfgs, x->res, x->idx,
	    x->runs, "requests_per_s requests_peak one_steps_per_s "
	    "proofs_per_s jobs_per_s nodes", row_load, ei);
	if (err != RF_OK) {
		return err;
	}
	gp_header(g, x->e, "load",
	    "Referee load");
	gp_titles(g, x->e, x->runs, x->idx, x->l);
	fprintf(g, "set logscale xy\nset xlabel '%s'\nset ylabel 'per "
	    "simulated second'\n"
	    "plot for [i=0:N-1] 'load.dat' index i using 1:2 with linespoints "
	    "pt 7 lc i+1 title word(titles,i+1).' requests (mean)', \\\n"
	    "     for [i=0:N-1] 'load.dat' index i using 1:3 with linespoints "
	    "pt 6 lc i+1 dt 2 title word(titles,i+1).' requests (peak second)',"
	    " \\\n     for [i=0:N-1] 'load.dat' index i using 1:($4>0?$4:1/0) "
	    "with linespoints pt 5 lc i+1 dt 3 title word(titles,i+1)."
	    "' one-step recomputations'\n", x_label(x->e));
	axis_head(x, "| all nodes | jobs/s | requests/s | peak second | "
	    "one-steps/s | proofs checked/s | disputes |");
	for (size_t r = 0; r < x->runs; r++) {
		struct derived d;
		const struct sim_config *c = &x->cfgs[r];
		derive(c, &x->res[r], &d);
		axis_cells(x, r);
		sb_printf(x->sb, "| %u | %.1f | %.1f | %llu | %.3f | %.2f | %llu |\n",
		    c->executors + c->challengers + c->clients, d.jobs_s, d.req_s,
		    (unsigned long long)x->res[r].load_peak, d.one_s, d.proofs_s,
		    (unsigned long long)x->res[r].disputes);
	}
	return RF_OK;
}

static int
plot_run(struct ctx *x, FILE *g, struct rf_errinfo *ei)
{
	const struct sim_result *r = &x->res[0];
	FILE *f;
	int err = sim_out_open(x->dir, "finality.csv", &f, ei);
	if (err != RF_OK) {
		return err;
	}
	fprintf(f, "quantile,seconds\n");
	for (size_t k = 0; k < SIM_QUANTILES; k++) {
		fprintf(f, "%.2f,%.6f\n", (double)k / (SIM_QUANTILES - 1),
		    (double)r->final_q[k] / 1e6);
	}
	err = out_close(f, "finality.csv", ei);
	if (err != RF_OK) {
		return err;
	}
	gp_header(g, x->e, "load_time",
	    "Referee load over simulated time");
	fprintf(g, "set datafile separator ','\nset key autotitle columnhead\n"
	    "set xlabel 'simulated time (s)'\nset ylabel 'referee requests "
	    "per second'\nplot 'load.csv' using 1:2 with lines lc 1 notitle\n");
	gp_header(g, x->e, "finality",
	    "Time from submission to finality");
	fprintf(g, "set datafile separator ','\nset key autotitle columnhead\n"
	    "set xlabel 'seconds from submission to final'\nset ylabel 'share "
	    "of final jobs'\nplot 'finality.csv' using 2:1 with lines lc 2 "
	    "notitle\n");
	return RF_OK;
}

/* The one-run report every experiment's summary starts with. */
static void
describe_run(struct sbuf *sb, const struct sim_config *c,
    const struct sim_result *r)
{
	struct derived d;
	derive(c, r, &d);
	sb_printf(sb, "network   %u executors, %u challengers, %u clients, %u "
	    "models of %u operators (c = %.2f per claim)\n", c->executors,
	    c->challengers, c->clients, c->models, c->ops, r->c_per_claim);
	sb_printf(sb, "jobs      %llu arrived, %llu claims, %llu final, %llu "
	    "invalid, %llu refused, %llu orphaned\n",
	    (unsigned long long)r->jobs, (unsigned long long)r->claims,
	    (unsigned long long)r->final, (unsigned long long)r->invalid,
	    (unsigned long long)r->refused, (unsigned long long)r->orphaned);
	sb_printf(sb, "frauds    %llu decided, %llu caught (%.4f; 1-(1-p)^c = "
	    "%.4f); honest claims invalidated: %llu\n",
	    (unsigned long long)d.frauds, (unsigned long long)d.caught, d.det,
	    d.closed, (unsigned long long)r->honest_invalid);
	for (int k = 1; k < SIM_EX_COUNT; k++) {
		if (r->st_nodes[k] == 0) {
			continue;
		}
		sb_printf(sb, "  %-11s %5u nodes, %7llu frauds, %7llu caught, "
		    "profit/job %.3f (honest %.3f)\n",
		    sim_exec_kind_name((enum sim_exec_kind)k), r->st_nodes[k],
		    (unsigned long long)r->frauds[k],
		    (unsigned long long)r->caught[k], d.profit[k],
		    d.profit[SIM_EX_HONEST]);
	}
	sb_printf(sb, "verify    %llu re-executions (%llu started after the "
	    "window: challengers overloaded), %.4f of the claimed work\n",
	    (unsigned long long)r->verifications,
	    (unsigned long long)r->verify_late, d.share);
	sb_printf(sb, "disputes  %llu opened, %llu decided (%llu won by the "
	    "executor, %llu timeouts, %llu bad proofs), %llu settled; rounds "
	    "mean %.2f (ceil(log_k ops) = %u); lied-at operator found in "
	    "%llu of %llu recomputed\n", (unsigned long long)r->disputes,
	    (unsigned long long)d.decided,
	    (unsigned long long)r->disputes_won_exec,
	    (unsigned long long)r->by_reason[PROTO_VERDICT_TIMEOUT],
	    (unsigned long long)r->by_reason[PROTO_VERDICT_BAD_PROOF],
	    (unsigned long long)r->settled, d.rounds_mean, d.rounds_closed,
	    (unsigned long long)r->lie_found,
	    (unsigned long long)r->lie_disputes);
	sb_printf(sb, "time      dispute mean %.3f s (max %.3f s); finality p50 "
	    "%.3f s, p99 %.3f s; fraud to invalid mean %.3f s; simulated %.1f "
	    "s\n", d.disp_mean_s, d.disp_max_s, d.fin_p50_s, d.fin_p99_s,
	    d.inv_mean_s, d.sim_s);
	sb_printf(sb, "referee   %llu requests, %.1f/s mean, %llu in the "
	    "busiest second; %.3f one-steps/s, %.1f proofs checked/s\n",
	    (unsigned long long)d.reqs, d.req_s,
	    (unsigned long long)r->load_peak, d.one_s, d.proofs_s);
	sb_printf(sb, "ledger    minted %llu, total %llu, burned %llu, "
	    "slashed %llu, rewards %llu: invariant %s\n",
	    (unsigned long long)r->minted, (unsigned long long)r->total,
	    (unsigned long long)r->burned, (unsigned long long)r->slashed,
	    (unsigned long long)r->rewards, r->ledger_ok ? "holds" : "BROKEN");
}

int
sim_out_write(const struct sim_experiment *e, const char *dir,
    const struct sim_config *cfgs, const struct sim_result *res,
    const size_t (*idx)[SIM_MAX_AXES], size_t runs, char **summary,
    struct rf_errinfo *ei)
{
	FILE *f;
	int err = sim_out_open(dir, "runs.csv", &f, ei);
	if (err != RF_OK) {
		return err;
	}
	runs_header(f, e);
	for (size_t r = 0; r < runs; r++) {
		runs_row(f, e, r, idx[r], &cfgs[r], &res[r]);
	}
	err = out_close(f, "runs.csv", ei);
	if (err == RF_OK) {
		err = sim_out_open(dir, "disputes.csv", &f, ei);
	}
	if (err == RF_OK) {
		fprintf(f, "run,job,executor,challenger,lie_op,op,rounds,"
		    "duration_us,winner,challenger_right,reason,real,slashed,"
		    "reward\n");
		for (size_t r = 0; r < runs; r++) {
			disputes_rows(f, r, &res[r]);
		}
		err = out_close(f, "disputes.csv", ei);
	}
	if (err == RF_OK) {
		err = sim_out_open(dir, "load.csv", &f, ei);
	}
	if (err == RF_OK) {
		fprintf(f, "second,requests\n");
		for (size_t s = 0; s < res[0].n_load; s++) {
			fprintf(f, "%zu,%u\n", s, res[0].load[s]);
		}
		err = out_close(f, "load.csv", ei);
	}
	if (err == RF_OK) {
		err = sim_out_open(dir, "perf.csv", &f, ei);
	}
	if (err == RF_OK) {
		fprintf(f, "run,jobs,nodes,events,heap_peak,jobs_peak,wall_s,"
		    "maxrss_kb\n");
		for (size_t r = 0; r < runs; r++) {
			fprintf(f, "%zu,%llu,%u,%llu,%zu,%zu,%.3f,%ld\n", r + 1,
			    (unsigned long long)res[r].jobs, cfgs[r].executors +
			    cfgs[r].challengers + cfgs[r].clients,
			    (unsigned long long)res[r].events, res[r].heap_peak,
			    res[r].jobs_peak, res[r].wall_s, res[r].maxrss_kb);
		}
		err = out_close(f, "perf.csv", ei);
	}
	if (err != RF_OK) {
		return err;
	}

	struct sbuf sb = { 0 };
	double wall = 0;
	bool ledger = true;
	for (size_t r = 0; r < runs; r++) {
		wall += res[r].wall_s;
		ledger = ledger && res[r].ledger_ok;
	}
	sb_printf(&sb, "experiment %s: %zu run%s, seed %llu, %.1f s wall, peak "
	    "memory %.1f MB; ledger invariant %s in every run\n\n", e->name,
	    runs, runs == 1 ? "" : "s", (unsigned long long)e->base.seed, wall,
	    (double)res[runs - 1].maxrss_kb / 1024.0, ledger ? "held" :
	    "BROKEN");
	if (runs == 1) {
		describe_run(&sb, &cfgs[0], &res[0]);
		sb_printf(&sb, "\n");
	}
	FILE *g;
	err = sim_out_open(dir, "plot.gp", &g, ei);
	if (err != RF_OK) {
		free(sb.p);
		return err;
	}
	fprintf(g, "# gnuplot script: cd to this folder, then "
	    "'gnuplot plot.gp'.\n");
	struct ctx x = { e, dir, cfgs, res, idx, runs, &sb,
	    layout_of(e, runs) };
	switch (e->plot) {
	case SIM_PLOT_RUN:
		err = plot_run(&x, g, ei);
		break;
	case SIM_PLOT_DETECTION:
		err = plot_detection(&x, g, ei);
		break;
	case SIM_PLOT_COST:
		err = plot_cost(&x, g, ei);
		break;
	case SIM_PLOT_STAKE:
		err = plot_stake(&x, g, ei);
		break;
	case SIM_PLOT_DISPUTE:
		err = plot_dispute(&x, g, ei);
		break;
	case SIM_PLOT_LOAD:
		err = plot_load(&x, g, ei);
		break;
	}
	int cerr = out_close(g, "plot.gp", ei);
	err = err != RF_OK ? err : cerr;
	if (err == RF_OK) {
		bool plotted = gnuplot(dir, "plot.gp");
		sb_printf(&sb, "\n%s\n", plotted ? "plots written by gnuplot" :
		    "gnuplot not available or failed: plot.gp is left to run "
		    "(see gnuplot.log)");
	}
	if (err == RF_OK && sb.oom) {
		err = rf_errf(ei, RF_ERR_NOMEM, "summary: out of memory");
	}
	if (err == RF_OK) {
		err = sim_out_open(dir, "summary.txt", &f, ei);
		if (err == RF_OK) {
			fwrite(sb.p, 1, sb.n, f);
			err = out_close(f, "summary.txt", ei);
		}
	}
	if (err == RF_OK && summary != NULL) {
		*summary = sb.p;
		sb.p = NULL;
	}
	free(sb.p);
	return err;
}
