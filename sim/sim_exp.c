/*
 * sim/sim_exp.c - experiments: a base configuration and up to three swept
 * keys, read from a config file or set from flags, run as every
 * combination of the swept values.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/des_int.h"

void
sim_experiment_init(struct sim_experiment *e)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->name, sizeof(e->name), "default");
	snprintf(e->format, sizeof(e->format), "png");
	e->plot = SIM_PLOT_RUN;
	sim_config_init(&e->base);
}

static int
plot_parse(const char *s, enum sim_plot *out)
{
	static const struct {
		const char *name;
		enum sim_plot p;
	} plots[] = {
		{ "run", SIM_PLOT_RUN },
		{ "detection", SIM_PLOT_DETECTION },
		{ "cost", SIM_PLOT_COST },
		{ "stake", SIM_PLOT_STAKE },
		{ "dispute", SIM_PLOT_DISPUTE },
		{ "load", SIM_PLOT_LOAD },
	};
	for (size_t i = 0; i < sizeof(plots) / sizeof(plots[0]); i++) {
		if (strcmp(s, plots[i].name) == 0) {
			*out = plots[i].p;
			return RF_OK;
		}
	}
	return RF_ERR_INVAL;
}

static bool
name_ok(const char *s)
{
	if (*s == '\0' || strlen(s) >= SIM_NAME_MAX) {
		return false;
	}
	for (; *s != '\0'; s++) {
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_') {
			return false;
		}
	}
	return true;
}

/* Splits a sweep's values at spaces and commas, checking each. */
static int
set_sweep(struct sim_experiment *e, const char *key, const char *value,
    struct rf_errinfo *ei)
{
	struct sim_axis *ax = NULL;
	for (size_t i = 0; i < e->n_axes; i++) {
		if (strcmp(e->axes[i].key, key) == 0) {
			ax = &e->axes[i];
		}
	}
	if (ax == NULL) {
		if (e->n_axes == SIM_MAX_AXES) {
			return rf_errf(ei, RF_ERR_RANGE, "at most %d swept keys",
			    SIM_MAX_AXES);
		}
		if (strlen(key) >= SIM_NAME_MAX) {
			return rf_errf(ei, RF_ERR_RANGE, "key '%s' too long", key);
		}
		ax = &e->axes[e->n_axes++];
		memset(ax, 0, sizeof(*ax));
		memcpy(ax->key, key, strlen(key) + 1);
	}
	ax->n = 0;
	const char *p = value;
	struct sim_config probe = e->base;
	while (*p != '\0') {
		while (*p == ' ' || *p == ',' || *p == '\t') {
			p++;
		}
		size_t len = strcspn(p, " ,\t");
		if (len == 0) {
			break;
		}
		if (len >= SIM_NAME_MAX || ax->n == SIM_MAX_VALUES) {
			return rf_errf(ei, RF_ERR_RANGE, "sweep %s: at most %d values "
			    "of at most %d characters", key, SIM_MAX_VALUES,
			    SIM_NAME_MAX - 1);
		}
		memcpy(ax->values[ax->n], p, len);
		ax->values[ax->n][len] = '\0';
		int err = sim_config_set(&probe, key, ax->values[ax->n], ei);
		if (err != RF_OK) {
			return err;
		}
		ax->n++;
		p += len;
	}
	if (ax->n == 0) {
		return rf_errf(ei, RF_ERR_INVAL, "sweep %s: no values", key);
	}
	return RF_OK;
}

int
sim_experiment_set(struct sim_experiment *e, const char *key,
    const char *value, bool sweep, struct rf_errinfo *ei)
{
	if (sweep) {
		return set_sweep(e, key, value, ei);
	}
	if (strcmp(key, "name") == 0) {
		if (!name_ok(value)) {
			return rf_errf(ei, RF_ERR_INVAL, "name: letters, digits, - "
			    "and _ only");
		}
		memcpy(e->name, value, strlen(value) + 1);
		return RF_OK;
	}
	if (strcmp(key, "plot") == 0) {
		if (plot_parse(value, &e->plot) != RF_OK) {
			return rf_errf(ei, RF_ERR_INVAL, "plot: run, detection, "
			    "cost, stake, dispute or load, not '%s'", value);
		}
		return RF_OK;
	}
	if (strcmp(key, "format") == 0) {
		if (strcmp(value, "png") != 0 && strcmp(value, "svg") != 0) {
			return rf_errf(ei, RF_ERR_INVAL, "format: png or svg");
		}
		memcpy(e->format, value, strlen(value) + 1);
		return RF_OK;
	}
	return sim_config_set(&e->base, key, value, ei);
}

static char *
trim(char *s)
{
	while (isspace((unsigned char)*s)) {
		s++;
	}
	size_t n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1])) {
		s[--n] = '\0';
	}
	return s;
}

int
sim_experiment_load(struct sim_experiment *e, const char *path,
    struct rf_errinfo *ei)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		return rf_errf(ei, RF_ERR_IO, "cannot open %s: %s", path,
		    strerror(errno));
	}
	char line[1024];
	unsigned no = 0;
	int err = RF_OK;
	while (err == RF_OK && fgets(line, sizeof(line), f) != NULL) {
		no++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			err = rf_errf(ei, RF_ERR_RANGE, "%s:%u: line too long", path,
			    no);
			break;
		}
		char *hash = strchr(line, '#');
		if (hash != NULL) {
			*hash = '\0';
		}
		char *s = trim(line);
		if (*s == '\0') {
			continue;
		}
		bool sweep = strncmp(s, "sweep", 5) == 0 &&
		    isspace((unsigned char)s[5]);
		if (sweep) {
			s = trim(s + 5);
		}
		char *eq = strchr(s, '=');
		if (eq == NULL) {
			err = rf_errf(ei, RF_ERR_FORMAT, "%s:%u: expected 'key = "
			    "value'", path, no);
			break;
		}
		*eq = '\0';
		char *key = trim(s);
		char *value = trim(eq + 1);
		err = sim_experiment_set(e, key, value, sweep, ei);
		if (err != RF_OK) {
			rf_errctx(ei, err, "%s:%u: ", path, no);
		}
	}
	fclose(f);
	return err;
}

/* Run r's configuration: the base with each axis at its value. Axis 0
 * varies fastest, so the runs of one series (axis 1) are consecutive. */
static int
run_config(const struct sim_experiment *e, size_t r, struct sim_config *c,
    size_t *idx, struct rf_errinfo *ei)
{
	*c = e->base;
	for (size_t a = 0; a < e->n_axes; a++) {
		idx[a] = r % e->axes[a].n;
		r /= e->axes[a].n;
		int err = sim_config_set(c, e->axes[a].key,
		    e->axes[a].values[idx[a]], ei);
		if (err != RF_OK) {
			return err;
		}
	}
	return sim_config_check(c, ei);
}

struct prog_ctx {
	void (*fn)(void *ctx, const struct sim_exp_progress *p);
	void *ctx;
	size_t run, runs;
};

static void
on_progress(void *ctx, const struct sim_progress *p)
{
	struct prog_ctx *pc = ctx;
	struct sim_exp_progress ep = { pc->run, pc->runs, *p };
	pc->fn(pc->ctx, &ep);
}

int
sim_experiment_run(const struct sim_experiment *e, const char *dir,
    void (*progress)(void *ctx, const struct sim_exp_progress *p),
    void *ctx, char **summary, struct rf_errinfo *ei)
{
	size_t runs = 1;
	for (size_t a = 0; a < e->n_axes; a++) {
		runs *= e->axes[a].n;
	}
	struct sim_config *cfgs = calloc(runs, sizeof(*cfgs));
	struct sim_result *res = calloc(runs, sizeof(*res));
	size_t (*idx)[SIM_MAX_AXES] = calloc(runs, sizeof(*idx));
	if (cfgs == NULL || res == NULL || idx == NULL) {
		free(cfgs);
		free(res);
		free(idx);
		return rf_errf(ei, RF_ERR_NOMEM, "out of memory");
	}
	/* Check every combination before running any. */
	int err = RF_OK;
	for (size_t r = 0; err == RF_OK && r < runs; r++) {
		err = run_config(e, r, &cfgs[r], idx[r], ei);
		if (err != RF_OK) {
			rf_errctx(ei, err, "run %zu: ", r + 1);
		}
	}
	if (err == RF_OK) {
		err = sim_mkdir_p(dir, ei);
	}
	FILE *jobs = NULL;
	if (err == RF_OK && e->base.jobs_csv) {
		err = sim_out_open(dir, "jobs.csv", &jobs, ei);
		if (jobs != NULL) {
			fprintf(jobs, "job,arrive_us,client,executor,model,fee,"
			    "strategy,lied,state\n");
		}
	}
	size_t done = 0;
	for (size_t r = 0; err == RF_OK && r < runs; r++) {
		struct prog_ctx pc = { progress, ctx, r + 1, runs };
		err = sim_run_jobs(&cfgs[r], &res[r], progress ? on_progress : NULL,
		    &pc, r == 0 ? jobs : NULL, ei);
		if (err != RF_OK) {
			rf_errctx(ei, err, "run %zu: ", r + 1);
		} else {
			done++;
		}
	}
	if (jobs != NULL && fclose(jobs) != 0 && err == RF_OK) {
		err = rf_errf(ei, RF_ERR_IO, "writing jobs.csv failed");
	}
	if (err == RF_OK) {
		err = sim_out_write(e, dir, cfgs, res, (const size_t (*)[SIM_MAX_AXES])
		    idx, runs, summary, ei);
	}
	for (size_t r = 0; r < done; r++) {
		sim_result_free(&res[r]);
	}
	free(cfgs);
	free(res);
	free(idx);
	return err;
}
